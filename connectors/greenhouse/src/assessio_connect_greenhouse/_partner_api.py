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
    ConfigError,
    ConnectorContext,
    InboundEvent,
    Invitation,
    PayloadError,
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

__all__ = ["PARTNER_PATHS", "SEND_TEST_EVENT", "PartnerApi", "basic_username"]

PARTNER_PATHS = ("/list_tests", "/send_test", "/test_status", "/request_errors")
SEND_TEST_EVENT = "send_test:"
"""The inbound queue's key of a sent test: this prefix and its partner_interview_id."""
_CHALLENGE = (("WWW-Authenticate", 'Basic realm="assessio-connect"'),)
_ERROR_FIELDS = ("api_call", "partner_test_id", "partner_test_name", "partner_interview_id")


def _queued_key(interview_id: str) -> str:
    """The state key marking a test sent whose order is still queued."""
    return f"partner.queued.{interview_id}"


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
        """Answer the test's `partner_interview_id` at once (it is derived from the completion
        url) and queue the order: reading its job through Harvest happens in `handle_sent_test`,
        not while Greenhouse waits. A repeat of a test already queued or ordered queues nothing."""
        self._authenticate(request)
        order = parse_send_test(read_json(request, what="send_test request"), self._settings)
        interview_id = interview_id_for(order.completion_url)
        known = self._context.find_order(interview_id)
        if known is None:
            self._check_test(order.partner_test_id)
            self._context.state.put(_queued_key(interview_id), order.partner_test_id)
            self._context.enqueue(SEND_TEST_EVENT + interview_id, request.body)
        self._context.log(
            "greenhouse.test_sent",
            partner_interview_id=interview_id,
            result_id=known.result_id if known is not None else None,
        )
        return Answer.json(200, {"partner_interview_id": interview_id})

    def _check_test(self, partner_test_id: str) -> None:
        """422 unless the test is one of the organisation's lenses (503 when Assessio cannot
        say right now): Greenhouse shows a refusal of send_test to the recruiter."""
        try:
            lens = self._context.assessio_config().find_lens(partner_test_id)
        except (APIError, TransportError) as exc:
            raise RetryableError(f"cannot read the lenses from Assessio right now: {exc}") from None
        if lens is None:
            raise PayloadError(
                [f"no test {partner_test_id!r} (list_tests lists them) @ $.partner_test_id"],
                what="send_test request",
            )

    def handle_sent_test(self, event: InboundEvent) -> None:
        """Order a queued `send_test`: the job read through Harvest names the recruitment
        (Harvest down: `RetryableError`, tried again later; refused: one recruitment per
        test)."""
        try:
            order = parse_send_test(event.json(), self._settings)
        except PayloadError as exc:
            raise PermanentError(f"queued send_test {event.key}: {exc}") from None
        interview_id = interview_id_for(order.completion_url)
        invitation = Invitation(
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
        try:
            known = self._context.invite(invitation)
        except ConfigError as exc:
            raise PermanentError(
                f"cannot order test {interview_id}: "
                + "; ".join(exc.problems)
                + "; fix the tenant's [assessment] rules, then retry the event "
                "(`assessio-connect events retry --dead`)"
            ) from None
        self._context.state.delete(_queued_key(interview_id))
        self._context.log(
            "greenhouse.test_ordered", partner_interview_id=interview_id, result_id=known.result_id
        )

    def _job(self, order: TestOrder) -> AtsJob:
        """The Greenhouse job behind a sent test (read through Harvest when possible), else one
        recruitment per test: send_test itself does not name the job."""
        if self._harvest is not None and order.application_id is not None:
            try:
                return job_of_application(self._harvest, order.application_id)
            except PermanentError as exc:
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
        if order is None and self._context.state.value(_queued_key(interview_id)) is not None:
            return Answer.json(200, status_answer(None, None))  # sent, its order still queued
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
