"""The core's layers, as the tree draws them (docs/architecture.md): a module imports only its
own layer and the layers below, and no module imports itself back through others.

Every import counts: at module level, inside functions, and under `TYPE_CHECKING` — a deferred
import that only dodges a cycle still couples the two modules. Layers come from paths alone,
so a module moved into another folder changes layer with it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = "assessio_connect"
ROOT = Path(__file__).resolve().parent.parent / "core" / PACKAGE

LAYERS: Mapping[str, tuple[int, str]] = {
    "contract": (1, "the contract"),
    "runtime": (2, "the runtime"),
    "kit": (3, "the connector author's kit"),
    "sandbox": (3, "the Assessio emulator"),
    "demo": (3, "the demo kit"),
    "": (4, "the public API"),
    "store": (4, "the public API"),
    "testing": (5, "the test kit"),
    "reference": (6, "the reference connector"),
    "tools": (7, "the tools"),
    "__main__": (7, "the tools"),
}
"""The first name below `assessio_connect` (`""` for the package itself) -> (layer, what)."""


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__`)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> tuple[int, str]:
    """The layer of a module of the package, from its path."""
    top = module.split(".")[1] if "." in module else ""
    if top not in LAYERS:
        raise LookupError(f"{module} is in no layer: add its folder to LAYERS and the docs")
    return LAYERS[top]


def _origin(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from ... import` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _known(name: str, modules: Iterable[str]) -> str | None:
    """`name`, or the longest module of the package it lies in; None outside the package."""
    known = set(modules)
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(source: str, module: str, is_package: bool, modules: Iterable[str]) -> set[str]:
    """The modules of the package that `source` imports, wherever the import stands."""
    modules = set(modules)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            origin = _origin(node, module, is_package)
            if _known(origin, modules) is None:
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                found.add(submodule if submodule in modules else origin)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports."""
    modules = module_names(root)
    return {
        name: imports_of(
            path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules
        )
        for name, path in modules.items()
    }


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    """Each import of a higher layer, worded for the failure."""
    found = []
    for module, targets in sorted(graph.items()):
        level, what = layer_of(module)
        for target in sorted(targets):
            target_level, target_what = layer_of(target)
            if target_level > level:
                found.append(
                    f"{module} ({what}, layer {level}) imports {target} "
                    f"({target_what}, layer {target_level})"
                )
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles: each strongly connected set of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


GRAPH = import_graph()


def test_every_module_is_in_a_layer() -> None:
    assert len(GRAPH) > 50, "the walk found too few modules"
    for module in GRAPH:
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    found = upward_imports(GRAPH)
    assert found == [], "imports of a higher layer:\n" + "\n".join(found)


def test_the_imports_have_no_cycle() -> None:
    found = cycles(GRAPH)
    assert found == [], "import cycles (deferred imports included):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


def test_the_contract_imports_nothing_else_of_the_package() -> None:
    outside = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith(f"{PACKAGE}.contract")
        for target in targets
        if not target.startswith(f"{PACKAGE}.contract")
    )
    assert outside == []


# -- the checker itself -----------------------------------------------------------------------

MODULES = {
    PACKAGE,
    f"{PACKAGE}.contract",
    f"{PACKAGE}.contract.codec",
    f"{PACKAGE}.runtime",
    f"{PACKAGE}.runtime.daemon",
    f"{PACKAGE}.tools",
    f"{PACKAGE}.tools.cli",
}


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from ..tools.cli import main\n", "assessio_connect.runtime.daemon", "tools.cli"),
        ("from ..tools import cli\n", "assessio_connect.runtime.daemon", "tools.cli"),
        ("def f():\n    from ..tools import cli\n", "assessio_connect.runtime.daemon", "tools.cli"),
        (
            "if TYPE_CHECKING:\n    import assessio_connect.tools\n",
            "assessio_connect.runtime.daemon",
            "tools",
        ),
        ("from assessio_connect import codec\n", "assessio_connect.contract.codec", ""),
        ("from . import codec\n", "assessio_connect.contract.client", "contract.codec"),
    ],
)
def test_every_form_of_import_is_found(source: str, module: str, expected: str) -> None:
    target = f"{PACKAGE}.{expected}" if expected else PACKAGE
    assert imports_of(source, module, False, MODULES) == {target}


def test_an_upward_import_is_reported() -> None:
    graph = {
        f"{PACKAGE}.runtime.daemon": {f"{PACKAGE}.tools.cli"},
        f"{PACKAGE}.tools.cli": {f"{PACKAGE}.runtime.daemon"},
    }
    assert upward_imports(graph) == [
        "assessio_connect.runtime.daemon (the runtime, layer 2) imports assessio_connect.tools.cli"
        " (the tools, layer 7)"
    ]


def test_a_cycle_is_reported_with_its_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_module_outside_every_layer_is_refused() -> None:
    with pytest.raises(LookupError, match="in no layer"):
        layer_of(f"{PACKAGE}.elsewhere.module")
