"""Finding and loading plugins: the built-in one first, then the `assessio_connect` entry points.

Loading is guarded: a plugin that fails to import, or whose registration hook raises, is
recorded as a `PluginFailure` and the others still load; `strict=True` makes it fatal.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from assessio_connect.contract.errors import ConfigError, PluginError

from . import hookspecs
from .connector import Connector
from .store import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConnectorInfo",
    "PluginFailure",
    "PluginInfo",
    "Plugins",
    "load_plugins",
]

ENTRY_POINT_GROUP = "assessio_connect"
BUILTIN_PLUGIN = "assessio_connect.builtin"


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or registered, and why."""

    name: str
    distribution: str | None
    error: str


@attrs.frozen
class ConnectorInfo:
    """A registered connector kind and where it comes from."""

    kind: str
    cls: type[Connector]
    plugin: str
    distribution: str | None


@attrs.frozen
class PluginInfo:
    """One loaded plugin, for `assessio-connect plugins`."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    connectors: tuple[str, ...]


def _describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Plugins:
    """The plugin manager and what the plugins registered."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.connectors: dict[str, ConnectorInfo] = {}
        self._distributions: dict[str, tuple[str | None, str | None]] = {}

    @property
    def hook(self) -> Any:
        """`pm.hook`: call hooks as `plugins.hook.assessio_order_sent(...)`."""
        return self.pm.hook

    def register(
        self,
        plugin: object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register a plugin object (a module or an instance with hookimpls)."""
        self.pm.register(plugin, name=name)
        self._distributions[name] = (distribution, version)

    def fail(self, name: str, distribution: str | None, exc: BaseException | str) -> None:
        """Record a failure, or raise it when loading is strict."""
        error = exc if isinstance(exc, str) else _describe_error(exc)
        failure = PluginFailure(name=name, distribution=distribution, error=error)
        if self.strict:
            where = f" (from {distribution})" if distribution else ""
            raise PluginError(f"plugin {name!r}{where} failed: {error}")
        self.failures.append(failure)

    def load_entry_points(self, entry_points: Iterable[importlib.metadata.EntryPoint]) -> None:
        """Import and register each entry point, recording the ones that fail."""
        for entry_point in entry_points:
            dist = entry_point.dist
            dist_name = dist.name if dist is not None else None
            version = dist.version if dist is not None else None
            if self.pm.has_plugin(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
                self.register(plugin, entry_point.name, distribution=dist_name, version=version)
            except Exception as exc:  # a broken plugin is reported, not fatal
                self.fail(entry_point.name, dist_name, exc)

    def collect_connectors(self) -> None:
        """Call each plugin's `assessio_register_connectors`, one plugin at a time."""
        caller = self.pm.hook.assessio_register_connectors
        for impl in reversed(caller.get_hookimpls()):  # registration order
            name = impl.plugin_name
            distribution = self._distributions.get(name, (None, None))[0]
            try:
                impl.function(register=self._registrar(name, distribution))
            except PluginError as exc:
                self.fail(name, distribution, str(exc))
            except Exception as exc:
                self.fail(name, distribution, exc)

    def _registrar(
        self, plugin: str, distribution: str | None
    ) -> Callable[[type[Connector]], None]:
        def register(cls: type[Connector]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise PluginError(f"{cls!r} is not a subclass of assessio_connect.Connector")
            kind = cls.kind
            if not kind:
                raise PluginError(f"connector {cls.__qualname__} has no `kind`")
            if not hasattr(cls, "Config") or not attrs.has(cls.Config):
                raise PluginError(f"connector {kind!r} needs an attrs `Config` class")
            known = self.connectors.get(kind)
            if known is not None:
                first = known.distribution or known.plugin
                second = distribution or plugin
                raise PluginError(
                    f"connector kind {kind!r} is registered by both {first} and {second}; "
                    "uninstall one of them"
                )
            self.connectors[kind] = ConnectorInfo(kind, cls, plugin, distribution)

        return register

    def register_commands(self, cli: Any) -> None:
        """Call each plugin's `assessio_register_commands` on its own, recording failures."""
        caller = self.pm.hook.assessio_register_commands
        for impl in reversed(caller.get_hookimpls()):
            name = impl.plugin_name
            distribution = self._distributions.get(name, (None, None))[0]
            try:
                impl.function(cli=cli)
            except Exception as exc:  # a broken plugin is reported, not fatal
                self.fail(name, distribution, exc)

    # What the runtime asks of plugins

    def connector(self, kind: str) -> type[Connector] | None:
        """The connector class registered for `kind`."""
        info = self.connectors.get(kind)
        return info.cls if info else None

    def connector_config(self, kind: str) -> type[Any] | None:
        """The `Config` class of the connector registered for `kind`."""
        cls = self.connector(kind)
        return cls.Config if cls else None

    def resolve_secret(self, scheme: str, reference: str) -> str | None:
        """Ask the secret-resolution hook; None when no plugin knows `scheme`."""
        value: str | None = self.pm.hook.assessio_resolve_secret(scheme=scheme, reference=reference)
        return value

    def open_store(self, url: str) -> Store:
        """Open the store for `url` through the store hook."""
        store: Store | None = self.pm.hook.assessio_open_store(url=url)
        if store is None:
            scheme = url.partition(":")[0] or url
            raise ConfigError(
                [f"no installed plugin opens stores of scheme {scheme!r} @ $.store.url"],
                source="store",
            )
        return store

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its hooks and connector kinds."""
        found: list[PluginInfo] = []
        for name, plugin in self.pm.list_name_plugin():
            if name is None or plugin is None:
                continue
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
            distribution, version = self._distributions.get(name, (None, None))
            kinds = tuple(sorted(k for k, v in self.connectors.items() if v.plugin == name))
            found.append(PluginInfo(name, distribution, version, hooks, kinds))
        return found

    def as_json(self) -> Mapping[str, Any]:
        """`describe()` and the failures as plain data."""
        return {
            "plugins": [attrs.asdict(info) for info in self.describe()],
            "connectors": {
                kind: {
                    "class": f"{info.cls.__module__}.{info.cls.__qualname__}",
                    "plugin": info.plugin,
                    "distribution": info.distribution,
                }
                for kind, info in sorted(self.connectors.items())
            },
            "failures": [attrs.asdict(failure) for failure in self.failures],
        }


def load_plugins(
    *,
    strict: bool = False,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Register the built-in plugin, installed entry points (unless disabled) and `extra`.

    The built-in plugin is found through the package's own entry point and always loaded
    first; `entry_points=False` leaves out only the other installed plugins. `extra` is
    `(name, plugin)` pairs, registered last, e.g. a test's own connector.
    """
    plugins = Plugins(strict=strict)
    builtin = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=BUILTIN_PLUGIN)
    if builtin:
        plugins.load_entry_points(builtin)
    else:
        plugins.fail(
            BUILTIN_PLUGIN,
            "assessio-connect",
            "the built-in plugin's entry point is missing: reinstall assessio-connect "
            "(pip install assessio-connect, or pip install -e . in a checkout)",
        )
    if entry_points:
        plugins.load_entry_points(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    for name, plugin in extra:
        plugins.register(plugin, name)
    plugins.collect_connectors()
    return plugins
