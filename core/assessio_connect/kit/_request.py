"""`Request`: one HTTP request to a connector's route, body already read and capped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from assessio_connect.contract import codec
from assessio_connect.contract.errors import AssessioError, PayloadError

__all__ = ["Request", "RequestRefused"]

T = TypeVar("T")


class RequestRefused(AssessioError):
    """Raised by a handler (or the kit) to answer `status` with `{"error": message}`; the
    message is shown to the caller, so it must hold no secret."""

    def __init__(
        self, status: int, message: str, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a refusal is an error status (400-599), not {status}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)


class _Headers(Mapping[str, str]):
    """Request headers looked up case-insensitively (`headers["x-lever-thing"]`)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {name.lower(): (name, value) for name, value in headers.items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self)})"  # names only: values may be credentials


def _headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return value if isinstance(value, _Headers) else _Headers(value)


def _params(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


def _query(value: Mapping[str, Iterable[str] | str]) -> Mapping[str, tuple[str, ...]]:
    return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in value.items()}


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json`, or any `+json` type, whatever its parameters."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


@attrs.frozen
class Request:
    """What a handler receives: the method, the path below the connector's mount point, the
    route's variables, the query, the headers (case-insensitive) and the raw body.

    Build one directly to test a handler without HTTP:
    `Request("POST", "/webhook", body=b"{}", headers={"Content-Type": "application/json"})`."""

    method: str
    path: str
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_params)
    """The route's `{name}` variables, e.g. `{"id": "42"}` for `/items/{id}`."""
    query: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_query)
    """Every value of every query parameter; `arg(name)` reads a single one."""
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_headers)
    body: bytes = attrs.field(default=b"", repr=False)
    """The raw bytes as received: verify signatures over these, never a re-serialisation."""

    def header(self, name: str) -> str | None:
        """One header's value, or None."""
        return self.headers.get(name)

    def arg(self, name: str) -> str | None:
        """The query parameter `name`, or None; a repeated one is refused with 400."""
        values = self.query.get(name, ())
        if len(values) > 1:
            raise RequestRefused(400, f"query parameter {name!r} is given more than once")
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON with the project's codec: 415 unless the Content-Type is
        JSON, 400 when the body is not JSON (NaN, bad UTF-8 and lone surrogates included)."""
        content_type = self.header("Content-Type")
        if not is_json_media_type(content_type):
            shown = (content_type or "none").split(";", 1)[0].strip()[:100]
            raise RequestRefused(415, f"send application/json, not {shown}")
        try:
            return codec.parse_json(self.body, what="request body")
        except PayloadError as exc:
            raise RequestRefused(400, "; ".join(exc.problems)) from None

    def structure(self, cls: type[T], *, what: str | None = None) -> T:
        """The JSON body as an attrs `cls` (camelCase names on the wire, strict types); every
        problem is reported at once with its path (`PayloadError`, answered 422)."""
        return codec.structure(self.json(), cls, what=what)
