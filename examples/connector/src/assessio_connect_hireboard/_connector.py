"""`HireboardConnector`: Hireboard's web hook in, assessment results written back over its REST
API, as `HIREBOARD-API.md` (Hireboard's documentation) describes them; built on the connector
kit and public names only."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs

from assessio_connect import (
    Answer,
    AtsCandidate,
    AtsHttp,
    AtsJob,
    Connector,
    ConnectorContext,
    Invitation,
    Pushback,
    Receipts,
    Request,
    Routes,
    Secret,
    TimestampedHmac,
)
from assessio_connect.kit import PayloadReader

__all__ = [
    "API_VERSION",
    "MAX_EVENT_BYTES",
    "SIGNATURE_HEADER",
    "HireboardConfig",
    "HireboardConnector",
    "idempotency_key",
    "parse_event",
    "sign",
]

API_VERSION = "v1"  # source: HIREBOARD-API.md § 1.1
SIGNATURE_HEADER = "Hireboard-Signature"  # source: HIREBOARD-API.md § 4.2
SIGNATURE = TimestampedHmac(SIGNATURE_HEADER, timestamp_key="t", signature_key="v1")
"""`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (HIREBOARD-API.md § 4.2)."""
MAX_EVENT_BYTES = 256 * 1024
STAGE_CHANGED = "application.stage_changed"  # source: HIREBOARD-API.md § 4.3
RESULTS_PATH = "/applications/{id}/assessment-results"  # source: HIREBOARD-API.md § 3.2


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `Hireboard-Signature` value: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    return SIGNATURE.sign(body, secret, timestamp)


def idempotency_key(result_id: str, version: int) -> str:
    """The `Idempotency-Key` of one result version: a repeat of it stores nothing new."""
    return f"assessio-{result_id}-v{version}"


# Configuration


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _check_base_url(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {value!r}")


def _check_stage(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError("trigger_stage must name a Hireboard stage, e.g. assessment")


def _check_tolerance(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= 3600:
        raise ValueError(f"tolerance must be from 1 to 3600 seconds, not {value}")


@attrs.frozen
class HireboardConfig:
    """A tenant's `[tenants.NAME.ats]` table for `kind = "hireboard"`."""

    api_key: Secret
    """Sent as `Authorization: Bearer <api_key>` on every call to Hireboard."""
    webhook_secret: Secret
    """Key of the web hook's `Hireboard-Signature`."""
    base_url: str = attrs.field(
        default="https://api.hireboard.example",
        converter=_strip_slash,
        validator=_check_base_url,
    )
    trigger_stage: str = attrs.field(default="assessment", validator=_check_stage)
    """Moving an application into this stage orders an assessment."""
    tolerance: int = attrs.field(default=300, validator=_check_tolerance)
    """Seconds a web hook's signature timestamp may be off."""


# Reading web hooks


def parse_event(data: object) -> tuple[str, str, Invitation]:
    """`(event type, application stage, invitation)` from an `application.*` web hook body
    (HIREBOARD-API.md § 4.3), or `PayloadError` listing every problem as `message @ $.path`.
    Unknown fields are ignored."""
    read = PayloadReader("Hireboard event")
    event = read.root(data)
    event_type = read.text(event, "type", "$")
    payload = read.table(event, "data", "$")
    application = read.table(payload, "application", "$.data")
    job = read.table(payload, "job", "$.data")
    candidate = read.table(payload, "candidate", "$.data")
    stage = read.text(application, "stage", "$.data.application")
    where = "$.data.candidate"
    names = [read.optional_text(candidate, key, where) for key in ("first_name", "last_name")]
    invitation = Invitation(
        application_id=read.text(application, "id", "$.data.application"),
        job=AtsJob(
            id=read.text(job, "id", "$.data.job"),
            title=read.text(job, "title", "$.data.job"),
            department=read.optional_text(job, "department", "$.data.job"),
        ),
        candidate=AtsCandidate(
            id=read.text(candidate, "id", where),
            email=read.email(candidate, "email", where),
            name=" ".join(name for name in names if name),
        ),
    )
    read.check()
    return event_type, stage, invitation


# The connector


class HireboardConnector(Connector[HireboardConfig]):
    """Hireboard: a stage change web hook orders an assessment; each result version is
    POSTed to the application with an idempotency key."""

    kind: ClassVar[str] = "hireboard"

    def __init__(self, config: HireboardConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.signature = attrs.evolve(SIGNATURE, max_age=config.tolerance)
        self.hireboard = AtsHttp(
            context.transport,
            f"{config.base_url}/{API_VERSION}",
            headers={"Authorization": f"Bearer {config.api_key.reveal()}"},
            name="Hireboard",
            credentials_hint="check ats.api_key",
            clock=context.now,
        )
        self.results = Receipts(context.state, "results")
        """Result id and version -> Hireboard's id of the stored result."""

    def wsgi_app(self) -> Routes:
        """`POST /webhook`: Hireboard's events."""
        routes = Routes(max_body_bytes=MAX_EVENT_BYTES, log=self.context.log, name="hireboard")
        routes.add("POST", "/webhook", self.webhook)
        return routes

    def webhook(self, request: Request) -> Answer:
        """A signed event: a move into `trigger_stage` orders an assessment (202); any other
        event is acknowledged (200) and ignored, as § 4.3 asks of subscribers."""
        self.signature.verify(request, self.config.webhook_secret, now=self.context.now())
        data = request.json()
        event_type = data.get("type") if isinstance(data, dict) else None
        if event_type != STAGE_CHANGED:
            return Answer.json(200, {"ignored": f"{event_type} events"})
        _, stage, invitation = parse_event(data)
        if stage != self.config.trigger_stage:
            return Answer.json(200, {"ignored": f"{event_type} to stage {stage!r}"})
        order = self.context.invite(invitation)
        return Answer.json(202, {"result_id": order.result_id, "state": order.state.value})

    def push_result(self, pushback: Pushback) -> None:
        """POST the result version once: its receipt (Hireboard's result id) makes a repeat
        free, the idempotency key a repeat after a crash harmless, and a version older than
        one already written (a slow retry) is skipped."""
        order = pushback.order
        newest = self.results.newest_version(order.result_id)
        if newest is not None and newest > pushback.version:
            self.context.log(
                "hireboard.result_stale",
                result_id=order.result_id,
                version=pushback.version,
                newest=newest,
            )
            return
        self.results.ensure(order.result_id, pushback.version, lambda: self._post(pushback))

    def _post(self, pushback: Pushback) -> str:
        """POST one result version (HIREBOARD-API.md § 3.2); Hireboard's id of it."""
        order, result = pushback.order, pushback.result
        body = {
            "provider": "assessio",
            "external_id": order.result_id,
            "version": pushback.version,
            "score": result.score,
            "subscores": [{"name": k, "score": v} for k, v in result.subscores.items()],
            "report_url": result.assessment_report_url,
        }
        what = "write the result back"
        answer = self.hireboard.request(
            "POST",
            RESULTS_PATH,
            params={"id": order.application_id},
            json_body=body,
            headers={"Idempotency-Key": idempotency_key(order.result_id, pushback.version)},
            what=what,
        )
        stored = self.hireboard.decode(answer, what) if answer.body else None
        result_id = stored.get("id") if isinstance(stored, dict) else None
        return str(result_id or "written")

    def check(self) -> str:
        """`GET /v1/me` with the API key."""
        self.hireboard.request("GET", "/me", what="reach Hireboard")
        return f"Hireboard at {self.config.base_url} accepted the API key"
