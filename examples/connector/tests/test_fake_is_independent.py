"""`fake.py` imports nothing of the connector: a fake that borrows the connector's constants,
parser or signer agrees with the connector's mistakes instead of refusing them as Hireboard
would. It restates `HIREBOARD-API.md` in its own code instead."""

from __future__ import annotations

import ast
from pathlib import Path

import assessio_connect_hireboard
import pytest
from assessio_connect_hireboard import fake

PACKAGE = assessio_connect_hireboard.__name__


def connector_imports(source: str, package: str) -> list[str]:
    """The imports in `source` that reach into `package` (any relative import does)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level or target == package or target.startswith(f"{package}."):
                found.append(f"line {node.lineno}: from {'.' * node.level}{target} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if alias.name == package or alias.name.startswith(f"{package}.")
            ]
    return found


def test_the_fake_imports_nothing_from_the_connector() -> None:
    source = Path(fake.__file__).read_text(encoding="utf-8")
    assert connector_imports(source, PACKAGE) == [], (
        "fake.py must restate HIREBOARD-API.md in its own code, not import the connector"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from ._connector import SIGNATURE_HEADER, sign\n",
        "from . import _connector\n",
        f"from {PACKAGE} import sign\n",
        f"import {PACKAGE}._connector\n",
        f"def later():\n    from {PACKAGE}._connector import parse_event\n",
    ],
)
def test_an_import_of_the_connector_is_caught(source: str) -> None:
    assert connector_imports(source, PACKAGE) != []


def test_the_core_and_the_standard_library_are_allowed() -> None:
    source = "import hmac\nfrom assessio_connect.testing import BackgroundServer\n"
    assert connector_imports(source, PACKAGE) == []
