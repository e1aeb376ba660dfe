"""JSON <-> model objects through one cattrs converter, with the contract's camelCase names.

Structuring is strict about types (no `"71"` for an integer, no `true` for a number) and lenient
about unknown fields, which are ignored here and kept raw by whoever stores the payload.
Every problem is reported at once, each with its JSON path, in one `PayloadError`.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._strict import InvalidValue, json_type, register_strict_primitives
from .errors import PayloadError
from .models import EmailRule, ScoreRule, email_problem, score_problem

__all__ = ["converter", "dumps", "loads", "parse_json", "structure", "to_camel", "unstructure"]

T = TypeVar("T")


def to_camel(name: str) -> str:
    """`result_update_url` -> `resultUpdateUrl`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _has_marker(marker: type) -> Any:
    def predicate(tp: Any) -> bool:
        return marker in getattr(tp, "__metadata__", ())

    return predicate


def _structure_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a string, got {json_type(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue("string holds an unpaired surrogate (\\ud800-\\udfff)") from None
    return value


def _structure_email(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected an email address (string), got {json_type(value)}")
    problem = email_problem(value)
    if problem:
        raise InvalidValue(problem)
    return str(value)


def _structure_score(value: Any, _: Any) -> int:
    if type(value) is not int:
        raise InvalidValue(f"expected an integer score, got {json_type(value)}")
    problem = score_problem(value)
    if problem:
        raise InvalidValue(problem)
    return int(value)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    register_strict_primitives(conv, json_type)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook_func(_has_marker(EmailRule), _structure_email)
    conv.register_structure_hook_func(_has_marker(ScoreRule), _structure_score)

    def structure_factory(cls: type[Any]) -> Any:
        renames = {a.name: override(rename=to_camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]

    def unstructure_factory(cls: type[Any]) -> Any:
        renames = {
            a.name: override(rename=to_camel(a.name), omit_if_default=a.default is None)
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **renames)  # type: ignore[arg-type]

    def array_factory(tp: Any) -> Any:
        # cattrs would iterate any iterable, turning "sv-SE" into ('s', 'v', …); JSON wants arrays.
        if is_mutable_sequence(tp):
            elements = list_structure_factory(tp, conv)
        else:
            elements = homogenous_tuple_structure_factory(tp, conv)

        def structure_array(value: Any, type_: Any) -> Any:
            if not isinstance(value, list):
                raise InvalidValue(f"expected an array, got {json_type(value)}")
            return elements(value, type_)

        return structure_array

    conv.register_structure_hook_factory(is_sequence, array_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = _make_converter()
"""The project's one cattrs converter; use it (not the global one) for every wire object."""


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, InvalidValue):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (TypeError, ValueError)):
        # attrs validators and converters raise these; their message says what is wrong.
        return str(exc) or f"invalid value for {type_}"
    return cattrs.v.format_exception(exc, type_)


_ATTRIBUTE_SEGMENT = re.compile(r"\.([A-Za-z0-9_]+)")


def _wire_path(problem: str) -> str:
    """Rewrite `… @ $.candidate_details.email` to the wire's `… @ $.candidateDetails.email`."""
    message, sep, path = problem.rpartition(" @ ")
    if not sep:
        return problem
    return f"{message} @ " + _ATTRIBUTE_SEGMENT.sub(lambda m: "." + to_camel(m.group(1)), path)


def _problems(exc: BaseException) -> list[str]:
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        found = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
        return [_wire_path(problem) for problem in found]
    return [f"{_format_exception(exc, None)} @ $"]


def structure(data: Any, cls: type[T], *, what: str | None = None) -> T:
    """Build a `cls` from JSON-like data, or raise `PayloadError` listing every problem."""
    name = what or cls.__name__
    if not isinstance(data, dict) and attrs.has(cls):
        raise PayloadError([f"expected a JSON object, got {json_type(data)} @ $"], what=name)
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise PayloadError(_problems(exc), what=name) from None


def unstructure(obj: Any) -> Any:
    """Turn a model object into JSON-ready data with camelCase keys."""
    return converter.unstructure(obj)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, *, what: str = "payload") -> Any:
    """Parse UTF-8 JSON bytes, or raise `PayloadError` saying why they are not JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise PayloadError(["body is not valid UTF-8 @ $"], what=what) from None
    except (ValueError, RecursionError) as exc:
        raise PayloadError([f"body is not valid JSON ({exc}) @ $"], what=what) from None


def loads(body: bytes, cls: type[T], *, what: str | None = None) -> T:
    """Parse and structure a JSON body in one step."""
    return structure(parse_json(body, what=what or cls.__name__), cls, what=what)


def dumps(obj: Any) -> bytes:
    """Serialise a model object (or JSON-ready data) to compact UTF-8 JSON bytes."""
    data = obj if not attrs.has(type(obj)) else unstructure(obj)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
