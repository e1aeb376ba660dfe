"""Greenhouse's side of the Assessment Partner API, from grnhse/greenhouse-api-docs
source/includes/assessment/: Greenhouse calls the partner's `list_tests`, `send_test`,
`test_status` and `request_errors` with HTTP Basic (the customer's partner API key as username,
blank password); the partner announces a finished test with `PATCH` on the `url` Greenhouse sent
(the same Basic credentials), after which Greenhouse asks `test_status`. A malformed answer is
reported to `request_errors`; a `test_status` of `partner_status: "complete"` needs
`partner_profile_url`."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import attrs
import urllib3

from ._fake_http import Reply, basic_credentials, error_reply
from ._fake_state import FakeData, GreenhouseWrite

__all__ = [
    "COMPLETION_PREFIX",
    "CompletionEndpoint",
    "PartnerCaller",
    "TakeHomeTest",
    "list_tests_problems",
    "test_status_problems",
]

COMPLETION_PREFIX = "/integrations/testing_partners/take_home_tests/"
MISSING_PROFILE_URL = "partner_status is 'complete' but partner_profile url is missing"
"""The documented `request_errors` example's message, verbatim."""


@attrs.frozen
class TakeHomeTest:
    """A test Greenhouse sent to the partner, and what it heard back."""

    id: int
    application_id: int
    partner_test_id: str
    partner_interview_id: str | None
    completions: int
    """Completion PATCHes received."""
    status: Mapping[str, Any] | None
    """The last well-formed `test_status` answer."""
    errors: tuple[str, ...] = ()
    """Why the last `test_status` answer was refused (empty when it was well-formed)."""


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def list_tests_problems(data: Any) -> list[str]:
    """What is wrong with a `list_tests` answer (empty: nothing)."""
    if not isinstance(data, list):
        return ["the answer must be a JSON array of tests"]
    problems = []
    for index, test in enumerate(data):
        if not isinstance(test, dict):
            problems.append(f"test {index} is not an object")
            continue
        for key in ("partner_test_id", "partner_test_name"):
            if not isinstance(test.get(key), str):
                problems.append(f"test {index}: {key} is missing or not a string")
    return problems


def test_status_problems(data: Any) -> list[str]:
    """What is wrong with a `test_status` answer (empty: nothing)."""
    if not isinstance(data, dict):
        return ["the answer must be a JSON object"]
    problems = []
    status = data.get("partner_status")
    if not isinstance(status, str):
        problems.append("partner_status is missing or not a string")
    elif status == "complete" and not isinstance(data.get("partner_profile_url"), str):
        problems.append(MISSING_PROFILE_URL)
    score = data.get("partner_score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        problems.append("partner_score must be a number")
    metadata = data.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(_primitive(v) for v in metadata.values())
    ):
        problems.append("metadata must be a non-nested object of Javascript primitives")
    return problems


def _basic(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


class PartnerCaller:
    """Calls one partner's endpoints as Greenhouse does, for one customer's API key."""

    def __init__(self, http: urllib3.PoolManager) -> None:
        self._http = http
        self.base_url: str | None = None
        self.api_key: str | None = None

    def connect(self, base_url: str, api_key: str) -> None:
        self.base_url, self.api_key = base_url.rstrip("/"), api_key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.base_url is None or self.api_key is None:
            raise RuntimeError("call connect_partner(base_url, api_key) first")
        encoded = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": _basic(self.api_key)}
        if encoded is not None:
            headers["Content-Type"] = "application/json"
        response = self._http.request(
            method, f"{self.base_url}{path}", body=encoded, headers=headers
        )
        try:
            data = json.loads(response.data)
        except ValueError:
            data = None
        return int(response.status), data

    def test_status(self, partner_interview_id: str) -> tuple[int, Any]:
        return self.call("GET", f"/test_status?partner_interview_id={quote(partner_interview_id)}")

    def report_errors(self, api_call: str, errors: Iterable[str], **extra: Any) -> int:
        status, _ = self.call(
            "POST", "/request_errors", {"api_call": api_call, "errors": list(errors), **extra}
        )
        return status


class CompletionEndpoint:
    """`PATCH {COMPLETION_PREFIX}{id}`: the partner says a take-home test is done."""

    def __init__(
        self,
        data: FakeData,
        *,
        api_key: Callable[[], str | None],
        clock: Callable[[], float],
        fault: Callable[[str], Reply | None],
        on_completion: Callable[[int], None],
    ) -> None:
        self._data = data
        self._api_key = api_key
        self._clock = clock
        self._fault = fault
        self._on_completion = on_completion

    def __call__(self, method: str, path: str, environ: Mapping[str, Any]) -> tuple[bool, Reply]:
        """(whether the partner key was valid, the answer)."""
        credentials = basic_credentials(dict(environ))
        key = self._api_key()
        if (
            key is None
            or credentials is None
            or not hmac.compare_digest(credentials[0].encode(), key.encode())
        ):
            return False, error_reply(401, "Unsuccessful authentication with the provided API key")
        if method != "PATCH":
            return True, error_reply(405, "use PATCH").with_headers(("Allow", "PATCH"))
        raw = path[len(COMPLETION_PREFIX) :].strip("/")
        ident = int(raw) if raw.isdigit() and len(raw) < 19 else None
        injected = self._fault(path)
        with self._data.lock:
            test = self._data.tests.get(ident) if ident is not None else None
            if injected is not None:
                reply = injected
            elif test is None:
                reply = error_reply(404, "The requested resource could not be found")
            else:
                test["completions"] += 1
                reply = Reply(200)  # "The response will return only the HTTP status code."
            self._data.writes.append(
                GreenhouseWrite("completion", raw, None, reply.status, None, self._clock())
            )
            self._data.changed()
        if reply.status == 200 and ident is not None:
            self._on_completion(ident)
        return True, reply
