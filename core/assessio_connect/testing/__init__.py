"""The integrator kit's testing tools: serving fakes, a recording context, and the pytest plugin
(fixtures for the Assessio emulator and the daemon, and the `ConnectorConformance` suite
every connector's tests should subclass).

Without pytest, this package gives what a fake ATS or a demo needs at run time:
`ServedApp` (the base of a fake: implement `wsgi_app()`), `BackgroundServer` (serves any WSGI
app on 127.0.0.1 with an ephemeral port), `RecordingContext` and `make_pushback` (drive a
connector without a daemon), and the TOML helpers. The names below that need pytest are
imported when first used.

Installed with assessio-connect and loaded by pytest through the `pytest11` entry point, so a
connector package's tests just use the fixtures (all named `assessio_*`)::

    def test_results_need_the_key(assessio_daemon_factory, assessio_result_sender): ...

    class TestMyAtsConformance(ConnectorConformance):
        connector_class = MyAtsConnector
        ...

Fixtures: `assessio_organisation` (the emulator's one organisation and its credentials),
`assessio_sandbox` (the emulator, started), `assessio_plugins` (a fresh `load_plugins()`; add
plugins with `@pytest.mark.assessio_plugins(plugin, ...)`), `assessio_daemon_factory` (starts
`RunningDaemon`s with a temporary SQLite store) and `assessio_result_sender` (posts result
webhooks with the right or deliberately wrong credentials).

This module holds no assert (PYTEST_DONT_REWRITE), so a test module may import it before pytest
loads it as a plugin; the suite's module is registered for assertion rewriting before it is
first imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._context import RecordingContext, make_pushback
from ._served import BackgroundServer, ConnectionLimits, ServedApp
from ._toml import MISSING, SecretFiles, toml_table, toml_value, with_secret_files

if TYPE_CHECKING:
    import pytest

    from ._conformance import (
        AtsRequest,
        ConformanceHarness,
        ConnectorConformance,
        InvalidConfig,
        Style,
    )
    from ._fixtures import (
        DaemonFactory,
        LoggedEvent,
        ResultAuth,
        ResultSender,
        RunningDaemon,
        SentResult,
        assessio_daemon_factory,
        assessio_organisation,
        assessio_plugins,
        assessio_result_sender,
        assessio_sandbox,
        new_organisation,
        plugins_with,
        wait_until,
    )

__all__ = [
    "MISSING",
    "AtsRequest",
    "BackgroundServer",
    "ConformanceHarness",
    "ConnectionLimits",
    "ConnectorConformance",
    "DaemonFactory",
    "InvalidConfig",
    "LoggedEvent",
    "RecordingContext",
    "ResultAuth",
    "ResultSender",
    "RunningDaemon",
    "SecretFiles",
    "SentResult",
    "ServedApp",
    "Style",
    "assessio_daemon_factory",
    "assessio_organisation",
    "assessio_plugins",
    "assessio_result_sender",
    "assessio_sandbox",
    "make_pushback",
    "new_organisation",
    "plugins_with",
    "pytest_configure",
    "toml_table",
    "toml_value",
    "wait_until",
    "with_secret_files",
]

_CONFORMANCE = "assessio_connect.testing._conformance"
_NEEDS_PYTEST = {
    **dict.fromkeys(
        ["AtsRequest", "ConformanceHarness", "ConnectorConformance", "InvalidConfig", "Style"],
        _CONFORMANCE,
    ),
    **dict.fromkeys(
        [
            "DaemonFactory",
            "LoggedEvent",
            "ResultAuth",
            "ResultSender",
            "RunningDaemon",
            "SentResult",
            "assessio_daemon_factory",
            "assessio_organisation",
            "assessio_plugins",
            "assessio_result_sender",
            "assessio_sandbox",
            "new_organisation",
            "plugins_with",
            "wait_until",
        ],
        "assessio_connect.testing._fixtures",
    ),
}
"""Names whose modules import pytest, and those modules: imported on first use."""


def _with_pytest(module_name: str, name: str) -> Any:
    try:
        import pytest
    except ImportError:
        raise ImportError(
            f"assessio_connect.testing.{name} needs pytest (pip install pytest); "
            "ServedApp, BackgroundServer and RecordingContext do not"
        ) from None
    # The suite's asserts are rewritten only if registered before its module is imported.
    pytest.register_assert_rewrite(_CONFORMANCE)
    return importlib.import_module(module_name)


if not TYPE_CHECKING:  # mypy sees the imports above instead, so a typo stays an error

    def __getattr__(name: str) -> Any:
        module_name = _NEEDS_PYTEST.get(name)
        if module_name is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_with_pytest(module_name, name), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        # pytest finds the plugin's fixtures by listing the module: list the lazy ones too.
        return sorted({*globals(), *_NEEDS_PYTEST})


def pytest_configure(config: pytest.Config) -> None:
    """Declare the plugin's marker (the project runs pytest with --strict-markers)."""
    config.addinivalue_line(
        "markers",
        "assessio_plugins(*plugins, entry_points=True): extra plugins (objects or "
        "(name, plugin) pairs) for the assessio_plugins fixture",
    )
