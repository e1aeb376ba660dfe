"""Connectors import only assessio-connect's public API.

A third party can rely on the names `assessio_connect` and its public packages export
(`assessio_connect.kit`, `.testing`, `.sandbox`, `.reference`), nothing else: a submodule such
as `assessio_connect.runtime.config`, or a private one such as
`assessio_connect.runtime._server`, may move or change in any release. Checked for every module
of the first-party connectors (`connectors/*`, their tests included), the examples
(`examples/**`), the built-in reference connector, the kit's demonstration connector
(`tests/kit_example`), the walk-through connector in `docs/writing-a-connector.md`, and every
package `new-connector` generates. Imports inside functions and under `TYPE_CHECKING` count
too.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect.tools._scaffold import AUTHS, STYLES, ConnectorScaffold

REPOSITORY = Path(__file__).resolve().parent.parent
CORE = "assessio_connect"
PUBLIC_PACKAGES = (
    CORE,
    f"{CORE}.kit",
    f"{CORE}.testing",
    f"{CORE}.sandbox",
    f"{CORE}.demo",
    f"{CORE}.reference",
)
"""The only modules of the core a connector may import, or import names from."""
REFERENCE_ROOT = REPOSITORY / "core" / CORE / "reference"
WALK_THROUGH = REPOSITORY / "docs" / "writing-a-connector.md"
WALK_THROUGH_MARKERS = ("connector-example", "connector-plugin", "connector-test")


def exported(package: str) -> frozenset[str]:
    """The public names of a public package: its `__all__`."""
    return frozenset(importlib.import_module(package).__all__)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from ... import` names, relative imports resolved against `module`."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    anchor = parts[: len(parts) - (node.level - 1)] if node.level - 1 < len(parts) else []
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _in_core(module: str) -> bool:
    return module == CORE or module.startswith(f"{CORE}.")


def _inside(module: str, package: str | None) -> bool:
    return package is not None and (module == package or module.startswith(f"{package}."))


def private_imports(
    source: str, module: str, *, is_package: bool = False, own_package: str | None = None
) -> list[str]:
    """Every import in `source` (the code of `module`) of a core module or name that is not
    public, one `line N: ...` each. A module inside `own_package` (a connector that lives in
    the core, such as `assessio_connect.reference`) may import the rest of that package."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if _in_core(alias.name)
                and alias.name not in PUBLIC_PACKAGES
                and not _inside(alias.name, own_package)
            ]
        elif isinstance(node, ast.ImportFrom):
            origin = _absolute(node, module, is_package)
            if not _in_core(origin) or _inside(origin, own_package):
                continue
            shown = f"line {node.lineno}: from {'.' * node.level}{node.module or ''} import"
            if origin not in PUBLIC_PACKAGES:
                found.append(f"{shown} ... ({origin} is not a public package)")
                continue
            public = exported(origin)
            found += [
                f"{shown} {alias.name} (not in {origin}.__all__)"
                for alias in node.names
                if alias.name != "*"
                and alias.name not in public
                and f"{origin}.{alias.name}" not in PUBLIC_PACKAGES
                and not _inside(f"{origin}.{alias.name}", own_package)
            ]
    return found


# -- what is checked --------------------------------------------------------------------------


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted name of the module at `path` under the import root `root`, and whether it
    is a package's `__init__`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _files() -> Iterator[tuple[str, str, str, bool, str | None]]:
    """(id, source, module, is_package, own_package) for every checked module."""
    for path in sorted(REPOSITORY.glob("connectors/*/src/**/*.py")):
        root = next(p for p in path.parents if p.name == "src")
        module, is_package = _module_name(path, root)
        yield str(path.relative_to(REPOSITORY)), path.read_text(), module, is_package, None
    tests = [*REPOSITORY.glob("connectors/*/tests/**/*.py"), *REPOSITORY.glob("examples/**/*.py")]
    tests += list((REPOSITORY / "tests" / "kit_example").glob("*.py"))
    for path in sorted(set(tests)):
        root = next(p for p in path.parents if p.name in ("src", "tests") or p == REPOSITORY)
        module, is_package = _module_name(path, root)
        yield str(path.relative_to(REPOSITORY)), path.read_text(), module, is_package, None
    for path in sorted(REFERENCE_ROOT.glob("**/*.py")):
        module, is_package = _module_name(path, REFERENCE_ROOT.parent.parent)
        relative = str(path.relative_to(REPOSITORY))
        yield relative, path.read_text(), module, is_package, f"{CORE}.reference"
    for style in STYLES:
        for auth in AUTHS:
            files = ConnectorScaffold("my_ats", style, auth).files()
            for relative, text in sorted(files.items()):
                if relative.endswith(".py"):
                    top = Path(relative.split("/", 1)[0])
                    module, is_package = _module_name(Path(relative), top)
                    yield (
                        f"new-connector {style} {auth}: {relative}",
                        text,
                        module,
                        is_package,
                        None,
                    )
    text = WALK_THROUGH.read_text(encoding="utf-8")
    for marker in WALK_THROUGH_MARKERS:
        pattern = rf"^<!-- {marker} -->\n```python\n(?P<code>.*?)^```[ \t]*$"
        blocks = [m["code"] for m in re.finditer(pattern, text, re.DOTALL | re.MULTILINE)]
        yield f"docs/writing-a-connector.md: {marker}", "".join(blocks), "walk_through", False, None


FILES = list(_files())


@pytest.mark.parametrize(
    ("source", "module", "is_package", "own_package"),
    [entry[1:] for entry in FILES],
    ids=[entry[0] for entry in FILES],
)
def test_connectors_import_only_public_names(
    source: str, module: str, is_package: bool, own_package: str | None
) -> None:
    found = private_imports(source, module, is_package=is_package, own_package=own_package)
    assert found == [], (
        "import these from assessio_connect, assessio_connect.kit, .testing or .sandbox "
        "(ask for an export if a name you need is missing):\n" + "\n".join(found)
    )


def test_the_walk_finds_every_kind_of_module() -> None:
    """A broken walk cannot pass by finding nothing."""
    ids = [entry[0] for entry in FILES]
    for expected in (
        "connectors/greenhouse/src/assessio_connect_greenhouse/plugin.py",
        "connectors/workday/src/assessio_connect_workday/_connector.py",
        "connectors/greenhouse/tests/test_greenhouse_conformance.py",
        "examples/connector/src/assessio_connect_hireboard/_connector.py",
        "examples/connector/tests/test_hireboard_contract.py",
        "core/assessio_connect/reference/_connector.py",
        "core/assessio_connect/reference/_fake.py",
        "tests/kit_example/connector.py",
        "new-connector pull oauth2: src/assessio_connect_my_ats/_connector.py",
        "new-connector push basic: tests/test_my_ats_conformance.py",
        "docs/writing-a-connector.md: connector-example",
    ):
        assert expected in ids
    for _, source, *_ in FILES:
        assert source.strip()


# -- the checker itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import assessio_connect.runtime._server\n",
        "from assessio_connect.runtime._wsgi import header\n",
        "from assessio_connect import _cli_runtime\n",
        "from assessio_connect.runtime.config import Secret\n",
        "import assessio_connect.runtime.connector\n",
        "from assessio_connect import connector_state\n",
        "from assessio_connect.sandbox import _catalog\n",
        "from assessio_connect.sandbox._catalog import DEFAULT_LENSES\n",
        "from assessio_connect.reference._connector import ReferenceConnector\n",
        "from assessio_connect.testing._toml import SecretFiles\n",
        "from assessio_connect.kit import _signatures\n",
        "from assessio_connect import NotExported\n",
        "def later():\n    from assessio_connect.contract.models import email_problem\n",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from assessio_connect.store import OrderRecord\n",
        "class C:\n    def m(self):\n        import assessio_connect.runtime._logging as log\n",
        "try:\n    from assessio_connect.tools import cli\nexcept ImportError:\n    pass\n",
    ],
)
def test_a_private_import_is_caught(source: str) -> None:
    assert private_imports(source, "assessio_connect_myats._connector") != []


@pytest.mark.parametrize(
    ("source", "module", "is_package"),
    [
        # A module of the reference connector reaching out of its package, relatively.
        ("from .. import config\n", "assessio_connect.reference._connector", False),
        ("from .._wsgi import header\n", "assessio_connect.reference._fake", False),
        ("from ..testing._served import ServedApp\n", "assessio_connect.reference", True),
    ],
)
def test_a_relative_import_out_of_the_reference_package_is_caught(
    source: str, module: str, is_package: bool
) -> None:
    found = private_imports(source, module, is_package=is_package, own_package=f"{CORE}.reference")
    assert found != []


@pytest.mark.parametrize(
    "source",
    [
        "import assessio_connect\n",
        "import assessio_connect.kit\n",
        "from assessio_connect import Connector, Secret, codec, hookimpl\n",
        "from assessio_connect.kit import PayloadReader, status_error\n",
        "from assessio_connect.testing import ServedApp, ConnectorConformance\n",
        "from assessio_connect.sandbox import Organisation, Sandbox\n",
        "from assessio_connect.reference import ReferenceAts\n",
        "from assessio_connect import *\n",
        "from assessio_connect import sandbox, testing\n",
        "import json\nfrom urllib.parse import urlsplit\nimport attrs\n",
        "from assessio_connect_myats._helpers import x\nfrom ._fake import y\n",
    ],
)
def test_a_public_import_passes(source: str) -> None:
    assert private_imports(source, "assessio_connect_myats._connector") == []


def test_the_reference_connector_may_import_its_own_modules() -> None:
    source = (
        "from ._fake import ReferenceAts\n"
        "from . import _demo\n"
        "from assessio_connect.reference._connector import sign\n"
    )
    own = f"{CORE}.reference"
    assert private_imports(source, f"{own}._demo", own_package=own) == []
    assert private_imports(source, "assessio_connect_other.x") != []
