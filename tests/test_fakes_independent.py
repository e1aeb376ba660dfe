"""No fake ATS imports its own connector.

A fake written from the connector (sharing its constants, parsers or signers) agrees with the
connector's mistakes, so its tests pass while the real ATS refuses the connector: that is how
the Greenhouse and Workday fakes once accepted requests the real services refuse. Each fake
module (`fake.py`, `_fake*.py`, or a module inside a `fake`/`_fake*` package) may import the
standard library, assessio-connect's core and other fake modules of its package, never the
rest of its own package. Checked for every connector under `connectors/*/src`, every example
under `examples/**/src`, the core's built-in reference connector (`assessio_connect.reference`,
whose own package is that sub-package: the rest of the core is allowed), and every package
`new-connector` generates.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessio_connect.tools._scaffold import AUTHS, STYLES, Auth, ConnectorScaffold, ScaffoldStyle

REPOSITORY = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = sorted([*REPOSITORY.glob("connectors/*/src"), *REPOSITORY.glob("examples/**/src")])
CORE_ROOT = REPOSITORY / "core"
CORE_CONNECTORS = ("assessio_connect.reference",)
"""Connectors inside the core package: each is its own package for the rule."""
KNOWN_FAKES = (
    "assessio_connect_greenhouse.fake",
    "assessio_connect_workday.fake",
    "assessio_connect_hireboard.fake",
    "assessio_connect.reference._fake",
)
"""Fakes the walk must find, so that a broken walk cannot pass by finding nothing."""


def is_fake_module(module: str) -> bool:
    """`pkg.fake`, `pkg._fake_x`, `pkg.fake.x`, `pkg._fake_x.y`: a fake or part of one."""
    return any(part == "fake" or part.startswith("_fake") for part in module.split(".")[1:])


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from ... import` names, relative imports resolved against `module`."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    anchor = parts[: len(parts) - (node.level - 1)] if node.level - 1 < len(parts) else []
    return ".".join([*anchor, *([node.module] if node.module else [])])


def own_imports(
    source: str, module: str, *, is_package: bool = False, package: str | None = None
) -> list[str]:
    """The imports in the fake `module` (its `source`) of its own package's modules that are
    not fakes, one `line N: ...` each. The package is the top-level one unless named."""
    package = package or module.split(".")[0]

    def own_non_fake(target: str) -> bool:
        inside = target == package or target.startswith(f"{package}.")
        return inside and not is_fake_module(target)

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if own_non_fake(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom):
            origin = _absolute(node, module, is_package)
            names = [alias.name for alias in node.names]
            # `from X import a, b` is fine when X is a fake, or when a and b are fake modules;
            # from outside the package, `from X import a` must not name the package (`reference`).
            if own_non_fake(origin):
                offending = not all(is_fake_module(f"{origin}.{n}") for n in names)
            else:
                offending = any(own_non_fake(f"{origin}.{n}") for n in names)
            if offending:
                shown = f"{'.' * node.level}{node.module or ''}"
                found.append(f"line {node.lineno}: from {shown} import {', '.join(names)}")
    return found


def fake_modules(
    root: Path, package: str | None = None
) -> Iterator[tuple[str, Path, bool, str | None]]:
    """(module name, file, is a package's __init__, its connector package) of each fake module
    under a src root, or only under `package` (a dotted package below the root) when given."""
    top = root.joinpath(*package.split(".")) if package else root
    for path in sorted(top.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        if is_fake_module(module):
            yield module, path, is_package, package


REPOSITORY_FAKES = [
    *(found for root in SOURCE_ROOTS for found in fake_modules(root)),
    *(found for package in CORE_CONNECTORS for found in fake_modules(CORE_ROOT, package)),
]


def test_the_walk_finds_every_known_fake() -> None:
    found = {module for module, _, _, _ in REPOSITORY_FAKES}
    assert set(KNOWN_FAKES) <= found, f"not found: {set(KNOWN_FAKES) - found}"


@pytest.mark.parametrize(
    ("module", "path", "is_package", "package"),
    REPOSITORY_FAKES,
    ids=[m for m, _, _, _ in REPOSITORY_FAKES],
)
def test_no_fake_imports_its_connector(
    module: str, path: Path, is_package: bool, package: str | None
) -> None:
    source = path.read_text(encoding="utf-8")
    problems = own_imports(source, module, is_package=is_package, package=package)
    assert problems == [], (
        f"{path.relative_to(REPOSITORY)} imports its own connector ({'; '.join(problems)}): "
        "restate the vendor's documentation in the fake's own code instead"
    )


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("style", STYLES)
def test_no_generated_fake_imports_its_connector(style: ScaffoldStyle, auth: Auth) -> None:
    scaffold = ConnectorScaffold("myats", style, auth)
    fakes = {
        path: text
        for path, text in scaffold.files().items()
        if path.startswith("src/") and is_fake_module(path[4:-3].replace("/", "."))
    }
    assert list(fakes) == ["src/assessio_connect_myats/fake.py"]
    for path, text in fakes.items():
        assert own_imports(text, path[4:-3].replace("/", ".")) == [], path


# -- the check itself ------------------------------------------------------------------------

MODULE = "assessio_connect_acme.fake"


@pytest.mark.parametrize(
    "source",
    [
        "from ._connector import SIGNATURE_HEADER, sign\n",
        "from ._http import Reply\n",
        "from . import _connector\n",
        "from . import _fake_oauth, _connector\n",
        "from assessio_connect_acme import AcmeConnector\n",
        "from assessio_connect_acme._webhook import sign\n",
        "import assessio_connect_acme._connector\n",
        "import assessio_connect_acme\n",
        "def later():\n    from ._connector import sign\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._config import Cfg\n",
    ],
)
def test_an_import_of_the_connector_is_caught(source: str) -> None:
    assert own_imports(source, MODULE) != []


@pytest.mark.parametrize(
    "source",
    [
        "import hmac\nfrom urllib.parse import parse_qs\n",
        "from assessio_connect.testing import BackgroundServer\n",
        "from assessio_connect.runtime._server import ServedApp\n",
        "from ._fake_harvest import FakeHarvest\n",
        "from . import _fake_oauth, fake\n",
        "from .fake import FakeAcme\n",
        "import assessio_connect_acme._fake_state\n",
        "from assessio_connect_acme._fake_views import render\n",
        "from assessio_connect_other import helper\n",
    ],
)
def test_the_core_and_other_fakes_are_allowed(source: str) -> None:
    assert own_imports(source, MODULE) == []


def test_relative_imports_resolve_inside_a_fake_package() -> None:
    # pkg/_fake/__init__.py and pkg/_fake/views.py: `.` is the fake package itself there.
    assert own_imports("from .views import render\n", "pkg._fake", is_package=True) == []
    assert own_imports("from .state import Store\n", "pkg._fake.views") == []
    assert own_imports("from .._connector import sign\n", "pkg._fake.views") != []


# -- a connector inside the core: its own package is the sub-package -------------------------

CORE_FAKE = "assessio_connect.reference._fake"
CORE_CONNECTOR = "assessio_connect.reference"


@pytest.mark.parametrize(
    "source",
    [
        "from ._connector import MAX_PAGE_SIZE, SIGNATURE_HEADER, sign\n",
        "from . import _connector\n",
        "from ._demo import ReferenceDemo\n",
        "from assessio_connect.reference import sign\n",
        "from assessio_connect.reference._connector import parse_invitation\n",
        "from assessio_connect import reference\n",
        "from .. import reference\n",
        "import assessio_connect.reference._connector\n",
    ],
)
def test_an_import_of_the_core_connector_is_caught(source: str) -> None:
    assert own_imports(source, CORE_FAKE, package=CORE_CONNECTOR) != []


@pytest.mark.parametrize(
    "source",
    [
        "from assessio_connect.runtime._server import ServedApp\n",
        "from assessio_connect.runtime._wsgi import header\n",
        "from .._server import ServedApp\n",
        "from assessio_connect import Secret\n",
        "import assessio_connect.testing\n",
    ],
)
def test_the_rest_of_the_core_is_allowed_to_the_core_connectors_fake(source: str) -> None:
    assert own_imports(source, CORE_FAKE, package=CORE_CONNECTOR) == []
