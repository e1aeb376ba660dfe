"""`assessio-connect new-connector`: a ready connector package from the templates in
`_templates/`, whose tests (the conformance suite against a fake ATS) pass as generated.

Templates are plain text with `{{variable}}` placeholders and line directives: a line
`#% if push`, `#% if basic or oauth2`, `#% else` or `#% endif` (nesting allowed) keeps or drops
the lines up to the next directive, depending on the style and the authentication.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import attrs

from assessio_connect.contract._version import __version__

__all__ = [
    "AUTHS",
    "STYLES",
    "Auth",
    "ConnectorScaffold",
    "ScaffoldStyle",
    "name_problem",
    "new_connector",
    "render",
]

ScaffoldStyle = Literal["push", "pull"]
Auth = Literal["api-key", "basic", "oauth2"]
STYLES: tuple[ScaffoldStyle, ...] = ("push", "pull")
AUTHS: tuple[Auth, ...] = ("api-key", "basic", "oauth2")
MAX_NAME_LENGTH = 24
RESERVED_NAMES = frozenset({"reference", "testing"})
"""Kinds or module names that assessio-connect itself uses."""

_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]+)\}\}")
_DIRECTIVE = "#%"

# (template, where it goes in the package; placeholders allowed)
_FILES: tuple[tuple[str, str], ...] = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("README.md.tmpl", "README.md"),
    ("__init__.py.tmpl", "src/{{module}}/__init__.py"),
    ("connector.py.tmpl", "src/{{module}}/_connector.py"),
    ("plugin.py.tmpl", "src/{{module}}/plugin.py"),
    ("fake.py.tmpl", "src/{{module}}/fake.py"),
    ("test_conformance.py.tmpl", "tests/test_{{name}}_conformance.py"),
    ("test_contract.py.tmpl", "tests/test_{{name}}_contract.py"),
)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a connector, or None when it can."""
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid connector name: use lowercase letters, digits and single "
            "underscores, starting with a letter (e.g. hireboard or my_ats)"
        )
    if len(name) > MAX_NAME_LENGTH:
        return f"the connector name is longer than {MAX_NAME_LENGTH} characters"
    if keyword.iskeyword(name) or name in RESERVED_NAMES:
        return f"{name!r} is reserved; choose another name"
    return None


def core_requirement(version: str = __version__) -> str:
    """The requirement on this core a connector is generated with: its release, up to the next
    one that may break connectors (the next minor while the version is 0.x, else the next
    major), e.g. `assessio-connect>=0.1.0,<0.2`."""
    major, minor = (int(part) for part in version.split(".")[:2])
    upper = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"assessio-connect>={version},<{upper}"


@attrs.frozen
class ConnectorScaffold:
    """What to generate: the connector's name, style and authentication."""

    name: str
    style: ScaffoldStyle = "push"
    auth: Auth = "api-key"

    def __attrs_post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem:
            raise ValueError(problem)
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {self.style!r}")
        if self.auth not in AUTHS:
            raise ValueError(f"auth must be one of {', '.join(AUTHS)}, not {self.auth!r}")

    @property
    def folder(self) -> str:
        return f"assessio-connect-{self.name}"

    @property
    def variables(self) -> dict[str, str]:
        """The values of the templates' placeholders."""
        words = self.name.split("_")
        return {
            "name": self.name,
            "kind": self.name,
            "Name": "".join(word.capitalize() for word in words),
            "title": " ".join(word.capitalize() for word in words),
            "module": f"assessio_connect_{self.name}",
            "distribution": f"assessio-connect-{self.name.replace('_', '-')}",
            "style": self.style,
            "auth": self.auth,
            "core_requirement": core_requirement(),
        }

    @property
    def flags(self) -> frozenset[str]:
        """The conditions that hold, for `#% if` lines."""
        return frozenset({self.style, self.auth})

    def files(self) -> dict[str, str]:
        """Relative path -> text of every file of the package."""
        templates = resources.files("assessio_connect.tools") / "_templates"
        found: dict[str, str] = {}
        for template, destination in _FILES:
            text = (templates / template).read_text(encoding="utf-8")
            path = render(destination, self.variables, self.flags)
            found[path] = render(text, self.variables, self.flags)
        found[f"src/{self.variables['module']}/py.typed"] = ""
        return found


def _condition(expression: str, flags: frozenset[str], line: int) -> bool:
    words = expression.split()
    if not words or len(words) % 2 == 0 or any(w != "or" for w in words[1::2]):
        raise ValueError(f"template line {line}: expected '#% if NAME [or NAME ...]'")
    return any(word in flags for word in words[::2])


def render(text: str, variables: Mapping[str, str], flags: Iterable[str] = ()) -> str:
    """Fill `{{placeholders}}` and apply `#% if/else/endif` lines (see the module docstring).

    Raises ValueError for an unknown placeholder or unbalanced directives."""
    known = frozenset(flags)
    kept: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (the condition held, the enclosing block is kept)

    def keeping() -> bool:
        return not stack or (stack[-1][0] and stack[-1][1])

    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if not stripped.startswith(_DIRECTIVE):
            if keeping():
                kept.append(line)
            continue
        directive = stripped[len(_DIRECTIVE) :].strip()
        if directive.startswith("if "):
            stack.append((_condition(directive[3:], known, number), keeping()))
        elif directive == "else" and stack:
            held, enclosing = stack.pop()
            stack.append((not held, enclosing))
        elif directive == "endif" and stack:
            stack.pop()
        else:
            raise ValueError(f"template line {number}: unexpected directive {stripped!r}")
    if stack:
        raise ValueError("template ends inside an '#% if' block")

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in variables:
            raise ValueError(f"unknown template placeholder {{{{{name}}}}}")
        return variables[name]

    return _PLACEHOLDER.sub(fill, "".join(kept))


def new_connector(
    name: str, *, style: ScaffoldStyle = "push", auth: Auth = "api-key", output: Path
) -> Path:
    """Write the package `assessio-connect-NAME/` into `output`; returns its folder.

    Raises ValueError for a bad name, style or auth, and FileExistsError rather than touch
    an existing folder."""
    scaffold = ConnectorScaffold(name, style, auth)
    root = output / scaffold.folder
    if root.exists():
        raise FileExistsError(f"{root} already exists; choose another name or --output")
    files = scaffold.files()
    output.mkdir(parents=True, exist_ok=True)
    root.mkdir()
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
