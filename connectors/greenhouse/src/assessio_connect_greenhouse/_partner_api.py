"""Greenhouse's Assessment Partner API as the connector serves it for one tenant: `list_tests`,
`send_test`, `test_status` and `request_errors` behind Basic auth with the tenant's partner key,
and the completion `PATCH` that announces a result."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from assessio_connect import codec
from assessio_connect._wsgi import RequestBodyError, read_body
from assessio_connect.connector import AtsCandidate, AtsJob, ConnectorContext, Invitation, Pushback
from assessio_connect.errors import (
    APIError,
    AssessioError,
    ConnectorError,
    PayloadError,
    PermanentError,
    RetryableError,
    TransportError,
)
from assessio_connect.store import OrderRecord

from ._auth import basic_header, error_text
from ._completion import completion_url
from ._config import PartnerSettings
from ._harvest import HarvestClient
from ._http import MAX_REQUEST_BYTES, Handler, Reply, basic_credentials, error, retry_later
from ._jobs import job_of_application
from ._partner import (
    CompletionSettings,
    interview_id_for,
    parse_send_test,
    status_answer,
    tests_answer,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ._partner import TestOrder

__all__ = ["PARTNER_PATHS", "PartnerApi"]

PARTNER_PATHS = ("/list_tests", "/send_test", "/test_status", "/request_errors")


class PartnerApi:
    """The partner endpoints of one tenant; `invite` records an order (or says why not)."""

    def __init__(
        self,
        settings: PartnerSettings,
        context: ConnectorContext,
        harvest: HarvestClient | None,
        invite: Callable[[Invitation], OrderRecord | Reply],
    ) -> None:
        self._settings = settings
        self._context = context
        self._harvest = harvest
        self._invite = invite
        self._completion = CompletionSettings(
            settings.completion_hosts, settings.allow_http_completion
        )

    def routes(self) -> dict[str, tuple[str, Handler]]:
        """Path -> (method, handler), relative to `/connectors/{tenant}`."""
        return {
            "/list_tests": ("GET", self._list_tests),
            "/send_test": ("POST", self._send_test),
            "/test_status": ("GET", self._test_status),
            "/request_errors": ("POST", self._request_errors),
        }

    def _denied(self, environ: WSGIEnvironment) -> Reply | None:
        credentials = basic_credentials(environ)
        key = self._settings.api_key.reveal().encode("utf-8")
        if credentials is not None and hmac.compare_digest(credentials[0].encode("utf-8"), key):
            return None
        self._context.log(
            "greenhouse.partner_rejected",
            level="warning",
            path=str(environ.get("PATH_INFO") or ""),
            reason="missing Basic credentials" if credentials is None else "unknown API key",
        )
        return Reply(
            401,
            {"message": "invalid API key"},
            (("WWW-Authenticate", 'Basic realm="assessio-connect"'),),
        )

    def _list_tests(self, environ: WSGIEnvironment) -> Reply:
        denied = self._denied(environ)
        if denied is not None:
            return denied
        try:
            config = self._context.assessio_config()
        except (APIError, TransportError) as exc:
            return retry_later(f"cannot read the lenses from Assessio right now: {exc}")
        return Reply(200, tests_answer(config))

    def _send_test(self, environ: WSGIEnvironment) -> Reply:
        denied = self._denied(environ)
        if denied is not None:
            return denied
        try:
            data = codec.parse_json(read_body(environ, MAX_REQUEST_BYTES), what="send_test request")
        except RequestBodyError as exc:
            return error(exc.status, str(exc))
        except PayloadError as exc:
            return error(400, str(exc))
        try:
            order = parse_send_test(data, self._completion)
        except PayloadError as exc:
            return error(422, "invalid send_test request", errors=list(exc.problems))
        interview_id = interview_id_for(order.completion_url)
        known = self._context.find_order(interview_id)
        if known is None:
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
            outcome = self._invite(invitation)
            if isinstance(outcome, Reply):
                return outcome
            known = outcome
        self._context.log(
            "greenhouse.test_sent",
            partner_interview_id=interview_id,
            result_id=known.result_id,
        )
        return Reply(200, {"partner_interview_id": interview_id})

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

    def _test_status(self, environ: WSGIEnvironment) -> Reply:
        denied = self._denied(environ)
        if denied is not None:
            return denied
        query = parse_qs(str(environ.get("QUERY_STRING") or ""))
        interview_id = (query.get("partner_interview_id") or [""])[0].strip()
        if not interview_id:
            return error(400, "partner_interview_id is required")
        order = self._context.find_order(interview_id)
        if order is None or order.metadata.get("mode") != "partner":
            return error(404, f"no test with partner_interview_id {interview_id!r}")
        record = self._context.latest_result(order.result_id)
        if record is None:
            return Reply(200, status_answer(None, None))
        return Reply(200, status_answer(record.result, record.version))

    def _request_errors(self, environ: WSGIEnvironment) -> Reply:
        denied = self._denied(environ)
        if denied is not None:
            return denied
        try:
            data = codec.parse_json(read_body(environ, MAX_REQUEST_BYTES), what="request_errors")
        except RequestBodyError as exc:
            return error(exc.status, str(exc))
        except PayloadError:
            data = None
        fields: dict[str, Any] = {}
        if isinstance(data, dict):
            for key in (
                "api_call",
                "partner_test_id",
                "partner_test_name",
                "partner_interview_id",
            ):
                if isinstance(data.get(key), (str, int)):
                    fields[key] = str(data[key])[:200]
            errors = data.get("errors")
            if isinstance(errors, list):
                fields["errors"] = "; ".join(str(item) for item in errors)[:1000]
        self._context.log("greenhouse.partner_request_error", level="error", **fields)
        return Reply(200, {})

    def complete(self, pushback: Pushback) -> None:
        """Announce a result: `PATCH` the test's completion url with the partner key, after
        checking the url again (the order may predate today's rules)."""
        order = pushback.order
        stored = order.metadata.get("completion_url")
        settings = self._settings
        if not stored:
            raise PermanentError(f"order {order.result_id} has no Greenhouse completion url")
        try:
            url = completion_url(
                stored,
                settings.completion_hosts,
                allow_http=settings.allow_http_completion,
            )
        except ValueError as exc:
            raise PermanentError(
                f"the completion url of test {order.application_id} {exc}; the partner key is "
                "not sent there"
            ) from None
        headers = {"Authorization": basic_header(settings.api_key.reveal())}
        action = f"mark test {order.application_id} complete in Greenhouse"
        try:
            self._context.transport.send("PATCH", url, headers=headers)
        except TransportError as exc:
            raise RetryableError(f"could not {action}: {exc}") from None
        except APIError as exc:
            detail = error_text(exc.body_excerpt)
            suffix = f": {detail}" if detail else ""
            message = f"could not {action}: Greenhouse answered HTTP {exc.status}{suffix}"
            if exc.status in (408, 425, 429) or exc.status >= 500:
                raise RetryableError(message, retry_after=exc.retry_after) from None
            if exc.status == 401:
                message += "; check ats.partner.api_key"
            raise PermanentError(message) from None
        self._context.log(
            "greenhouse.test_completed",
            partner_interview_id=order.application_id,
            result_id=order.result_id,
            version=pushback.version,
        )
