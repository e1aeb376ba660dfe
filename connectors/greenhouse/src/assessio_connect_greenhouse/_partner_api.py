"""Greenhouse's Assessment Partner API as the connector serves it for one tenant: `list_tests`,
`send_test`, `test_status` and `request_errors` behind Basic auth with the tenant's partner key,
and the completion `PATCH` that announces a result."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from assessio_connect import (
    Answer,
    APIError,
    AssessioError,
    AtsCandidate,
    AtsJob,
    ConnectorContext,
    ConnectorError,
    Invitation,
    PermanentError,
    Pushback,
    Receipts,
    Request,
    RequestRefused,
    RetryableError,
    Routes,
    TransportError,
    as_connector_errors,
)

from ._auth import basic_header
from ._completion import completion_url
from ._config import PartnerSettings
from ._harvest import HarvestClient
from ._jobs import job_of_application
from ._partner import TestOrder, interview_id_for, parse_send_test, status_answer, tests_answer
from ._reading import read_json

__all__ = ["PARTNER_PATHS", "PartnerApi", "basic_username"]

PARTNER_PATHS = ("/list_tests", "/send_test", "/test_status", "/request_errors")
_CHALLENGE = (("WWW-Authenticate", 'Basic realm="assessio-connect"'),)
_ERROR_FIELDS = ("api_call", "partner_test_id", "partner_test_name", "partner_interview_id")


def basic_username(authorization: str | None) -> str | None:
    """The user name of `Authorization: Basic …`, or None when absent or malformed."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, _ = decoded.partition(":")
    return username if colon else None


class PartnerApi:
    """The partner endpoints of one tenant, and the completion of its tests."""

    def __init__(
        self,
        settings: PartnerSettings,
        context: ConnectorContext,
        harvest: HarvestClient | None,
    ) -> None:
        self._settings = settings
        self._context = context
        self._harvest = harvest
        self.completions = Receipts(context.state, "completions")
        """Result id and version -> the partner_interview_id whose completion was announced."""

    def add_routes(self, routes: Routes) -> None:
        """Serve the partner endpoints (relative to `/connectors/{tenant}`)."""
        routes.add("GET", "/list_tests", self._list_tests)
        routes.add("POST", "/send_test", self._send_test)
        routes.add("GET", "/test_status", self._test_status)
        routes.add("POST", "/request_errors", self._request_errors)

    def _authenticate(self, request: Request) -> None:
        """401 unless the Basic user name is the partner key (compared in constant time)."""
        username = basic_username(request.header("Authorization"))
        if username is None:
            raise RequestRefused(401, "missing Basic credentials", headers=_CHALLENGE)
        key = self._settings.api_key.reveal().encode("utf-8")
        if not hmac.compare_digest(username.encode("utf-8"), key):
            raise RequestRefused(401, "invalid API key", headers=_CHALLENGE)

    def _list_tests(self, request: Request) -> Answer:
        self._authenticate(request)
        try:
            config = self._context.assessio_config()
        except (APIError, TransportError) as exc:
            raise RetryableError(f"cannot read the lenses from Assessio right now: {exc}") from None
        return Answer.json(200, tests_answer(config))

    def _send_test(self, request: Request) -> Answer:
        self._authenticate(request)
        order = parse_send_test(read_json(request, what="send_test request"), self._settings)
        interview_id = interview_id_for(order.completion_url)
        known = self._context.find_order(interview_id) or self._context.invite(
            Invitation(
                application_id=interview_id,
                job=self._job(order),
                candidate=AtsCandidate(
                    id=order.application_id or interview_id,
                    email=order.email,
                    name=f"{order.first_name} {order.last_name}".strip(),
                ),
                lens=order.partner_test_id,
                metadata={
                    "mode": "partner",
                    "completion_url": order.completion_url,
                    "partner_test_id": order.partner_test_id,
                    "greenhouse_application_id": order.application_id or "",
                },
            )
        )
        self._context.log(
            "greenhouse.test_sent", partner_interview_id=interview_id, result_id=known.result_id
        )
        return Answer.json(200, {"partner_interview_id": interview_id})

    def _job(self, order: TestOrder) -> AtsJob:
        """The Greenhouse job behind a sent test (read through Harvest when possible), else one
        recruitment per test: send_test itself does not name the job."""
        if self._harvest is not None and order.application_id is not None:
            try:
                return job_of_application(self._harvest, order.application_id)
            except ConnectorError as exc:
                self._context.log(
                    "greenhouse.partner_job_unknown",
                    level="warning",
                    greenhouse_application_id=order.application_id,
                    error=str(exc),
                )
        name = order.partner_test_id
        try:
            lens = self._context.assessio_config().find_lens(order.partner_test_id)
            name = lens.name if lens is not None else name
        except AssessioError:
            pass
        return AtsJob(id=f"test-{order.partner_test_id}", title=f"{name} (Greenhouse assessment)")

    def _test_status(self, request: Request) -> Answer:
        self._authenticate(request)
        interview_id = (request.arg("partner_interview_id") or "").strip()
        if not interview_id:
            raise RequestRefused(400, "partner_interview_id is required")
        order = self._context.find_order(interview_id)
        if order is None or order.metadata.get("mode") != "partner":
            raise RequestRefused(404, f"no test with partner_interview_id {interview_id!r}")
        record = self._context.latest_result(order.result_id)
        if record is None:
            return Answer.json(200, status_answer(None, None))
        return Answer.json(200, status_answer(record.result, record.version))

    def _request_errors(self, request: Request) -> Answer:
        self._authenticate(request)
        try:
            data = read_json(request, what="request_errors")
        except RequestRefused:
            data = None
        fields: dict[str, Any] = {}
        if isinstance(data, dict):
            for key in _ERROR_FIELDS:
                if isinstance(data.get(key), (str, int)):
                    fields[key] = str(data[key])[:200]
            errors = data.get("errors")
            if isinstance(errors, list):
                fields["errors"] = "; ".join(str(item) for item in errors)[:1000]
        self._context.log("greenhouse.partner_request_error", level="error", **fields)
        return Answer.json(200, {})

    def complete(self, pushback: Pushback) -> None:
        """Announce a result version once: `PATCH` the test's completion url with the partner
        key (a receipt records it), unless a newer version was announced already (a slow
        retry of an older one changes nothing)."""
        order = pushback.order
        newest = self.completions.newest_version(order.result_id)
        if newest is not None and newest > pushback.version:
            self._context.log(
                "greenhouse.result_stale",
                partner_interview_id=order.application_id,
                result_id=order.result_id,
                version=pushback.version,
                newest=newest,
            )
            return
        self.completions.ensure(order.result_id, pushback.version, lambda: self._patch(pushback))

    def _patch(self, pushback: Pushback) -> str:
        """`PATCH` the completion url, after checking it again (the order may predate today's
        rules); the partner_interview_id it completed."""
        order = pushback.order
        stored = order.metadata.get("completion_url")
        settings = self._settings
        if not stored:
            raise PermanentError(f"order {order.result_id} has no Greenhouse completion url")
        try:
            url = completion_url(
                stored, settings.completion_hosts, allow_http=settings.allow_http_completion
            )
        except ValueError as exc:
            raise PermanentError(
                f"the completion url of test {order.application_id} {exc}; the partner key is "
                "not sent there"
            ) from None
        key = settings.api_key.reveal()
        with as_connector_errors(
            f"mark test {order.application_id} complete in Greenhouse",
            secrets=[key],
            credentials_hint="check ats.partner.api_key",
        ):
            self._context.transport.send("PATCH", url, headers={"Authorization": basic_header(key)})
        self._context.log(
            "greenhouse.test_completed",
            partner_interview_id=order.application_id,
            result_id=order.result_id,
            version=pushback.version,
        )
        return order.application_id
