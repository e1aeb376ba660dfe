"""MkDocs hook: a page's link to a repository file outside docs/ (`../examples/daemon.toml`)
works on GitHub as written, and in the built site, which gets a plain copy of that file.

A Markdown file is copied as text (`README.md.txt`): rendered, its own links would point
nowhere in the site. A link to a folder or to a missing file is left for `mkdocs build
--strict` to refuse."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

__all__ = ["on_page_markdown"]

REPOSITORY = Path(__file__).resolve().parent.parent
SITE_FOLDER = "repository"
"""Where the copies live in the site: `repository/examples/daemon.toml`."""
_MARKDOWN = frozenset({".md", ".markdown", ".mdown", ".mkdn", ".mkd"})
_LINK = re.compile(r"\]\(\.\./(?P<target>[^)#\s]+)\)")


def on_page_markdown(
    markdown: str, *, page: Page, config: MkDocsConfig, files: Files, **_: Any
) -> str:
    """Point `](../path)` links at a copy of the file in the site; others are left for MkDocs
    to validate (a missing file still fails `mkdocs build --strict`)."""
    from mkdocs.structure.files import File

    page_dir = posixpath.dirname(page.file.src_uri)

    def relink(match: re.Match[str]) -> str:
        target = match["target"]
        docs = Path(config.docs_dir).resolve()
        source = (docs / page_dir / ".." / target).resolve()
        outside_docs = docs not in source.parents and REPOSITORY in source.parents
        if not (outside_docs and source.is_file()):
            return match[0]
        uri = f"{SITE_FOLDER}/{source.relative_to(REPOSITORY).as_posix()}"
        if source.suffix.lower() in _MARKDOWN:
            uri += ".txt"
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(source)))
        return f"]({posixpath.relpath(uri, page_dir or '.')})"

    return _LINK.sub(relink, markdown)
