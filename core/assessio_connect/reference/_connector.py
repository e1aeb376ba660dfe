"""`ReferenceConnector`: the reference ATS's events in, its invitations polled, results written
back, all as JSON over HTTP (the protocol is described in the package docstring), on the
connector kit and the public API only, as a third party's connector would be."""

from __future__ import annotations

import math
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs

from assessio_connect import (
    Answer,
    AtsCandidate,
    AtsHttp,
    AtsJob,
    BodyHmac,
    ConfigError,
    Connector,
    ConnectorContext,
    CursorPages,
    Invitation,
    PayloadError,
    PollPage,
    Pushback,
    Request,
    Routes,
    Secret,
    codec,
)
from assessio_connect.kit import PayloadReader, status_error

__all__ = [
    "EVENTS_PATH",
    "MAX_EVENT_BYTES",
    "MAX_PAGE_SIZE",
    "SIGNATURE_HEADER",
    "ReferenceConfig",
    "ReferenceConnector",
    "parse_invitation",
    "sign",
]

EVENTS_PATH = "/events"
SIGNATURE_HEADER = "X-Reference-Signature"
SIGNATURE = BodyHmac(SIGNATURE_HEADER, prefix="sha256=")
"""`sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the webhook secret."""
MAX_EVENT_BYTES = 256 * 1024
MAX_PAGE_SIZE = 1000
FEED = CursorPages(cursor_field="next", param="after")
"""`{"invitations": [...], "next": "<cursor>" | null}`; `after=<cursor>` reads on from there."""
ASSESSMENT_PATH = "/api/applications/{id}/assessment"


def sign(body: bytes, secret: str) -> str:
    """The `X-Reference-Signature` value for `body`: `sha256=<hex HMAC-SHA256>`."""
    return SIGNATURE.sign(body, secret)


# Configuration


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _check_base_url(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("base_url is not a valid URL") from None
    if "@" in parts.netloc:
        raise ValueError("base_url must not contain credentials; use api_token")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not have a query or a fragment")


def _check_interval(_inst: object, _attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"poll_interval must be a positive number of seconds, not {value!r}")


def _check_page_size(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, not {value!r}")


@attrs.frozen
class ReferenceConfig:
    """A tenant's `[tenants.NAME.ats]` table for `kind = "reference"`.

    `webhook_secret` turns on push style (the ATS POSTs events), `poll = true` pull style;
    at least one is needed, both may be on."""

    base_url: str = attrs.field(converter=_strip_slash, validator=_check_base_url)
    """The ATS's API root; calls go to `{base_url}/api/...`."""
    api_token: Secret
    """Sent as `Authorization: Bearer <api_token>` on every call to the ATS."""
    webhook_secret: Secret | None = None
    """Key of the events' `X-Reference-Signature` HMAC."""
    poll: bool = False
    poll_interval: float = attrs.field(default=30.0, validator=_check_interval)
    """Seconds between polls once a page said there is no more."""
    page_size: int = attrs.field(default=100, validator=_check_page_size)

    def __attrs_post_init__(self) -> None:
        if self.webhook_secret is None and not self.poll:
            raise ValueError(
                "the reference connector needs webhook_secret (to receive events), "
                "poll = true (to poll invitations), or both"
            )


# Reading invitations


def parse_invitation(data: object) -> Invitation:
    """An `Invitation` from an event body (or a polled item), or `PayloadError` with every
    problem as `message @ $.path`. Unknown fields are ignored."""
    read = PayloadReader("reference event")
    event = read.root(data)
    read.text(event, "event_id", "$")
    application_id = read.text(event, "application_id", "$")
    job = read.table(event, "job", "$")
    candidate = read.table(event, "candidate", "$")
    invitation = Invitation(
        application_id=application_id,
        job=AtsJob(
            id=read.text(job, "id", "$.job"),
            title=read.text(job, "title", "$.job"),
            description=read.optional_text(job, "description", "$.job") or "",
            department=read.optional_text(job, "department", "$.job"),
            hiring_team=read.emails(job, "hiring_team", "$.job"),
        ),
        candidate=AtsCandidate(
            id=read.text(candidate, "id", "$.candidate"),
            email=read.email(candidate, "email", "$.candidate"),
            name=read.optional_text(candidate, "name", "$.candidate") or "",
        ),
        lens=read.optional_text(event, "lens", "$") or None,
        locale=read.optional_text(event, "locale", "$") or None,
    )
    read.check()
    return invitation


# The connector


class ReferenceConnector(Connector[ReferenceConfig]):
    """The reference ATS: events pushed to `/connectors/{tenant}/events` when `webhook_secret`
    is set, invitations polled when `poll = true`, results written back with a PUT."""

    kind: ClassVar[str] = "reference"

    def __init__(self, config: ReferenceConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.ats = AtsHttp(
            context.transport,
            config.base_url,
            headers={"Authorization": f"Bearer {config.api_token.reveal()}"},
            name="the reference ATS",
            credentials_hint="the api_token was refused; check ats.api_token",
            clock=context.now,
        )

    @property
    def is_push(self) -> bool:
        """Push style exactly when the tenant configured a `webhook_secret`."""
        return self.config.webhook_secret is not None

    @property
    def is_pull(self) -> bool:
        """Pull style exactly when the tenant configured `poll = true`."""
        return self.config.poll

    def wsgi_app(self) -> Routes:
        """The events endpoint, `POST /events` under the connector's mount point."""
        secret = self.config.webhook_secret
        if secret is None:
            raise ConfigError(
                ["set webhook_secret to receive events from the reference ATS @ ats"],
                source=f"tenant {self.context.tenant}",
            )
        routes = Routes(max_body_bytes=MAX_EVENT_BYTES, log=self.context.log, name="reference")
        routes.add("POST", EVENTS_PATH, lambda request: self.event(request, secret))
        return routes

    def event(self, request: Request, secret: Secret) -> Answer:
        """A signed invitation: 202 with its order (made once per application), 401 unsigned,
        400 not JSON, 422 unreadable or fitting no assessment, 503 to be sent again later."""
        SIGNATURE.verify(request, secret)
        order = self.context.invite(parse_invitation(request.json()))
        self.context.log(
            "reference.event", application_id=order.application_id, result_id=order.result_id
        )
        return Answer.json(
            202,
            {
                "application_id": order.application_id,
                "result_id": order.result_id,
                "state": order.state.value,
            },
        )

    def poll(self, cursor: str | None) -> PollPage:
        """One page of invitations after `cursor`; items that cannot be read are logged and
        skipped (retrying would not make them readable, and they must not block the rest)."""
        limit = self.config.page_size
        page = self.ats.page(
            "/api/invitations",
            FEED,
            query={"limit": str(limit)},
            position=cursor,
            items="invitations",
        )
        invitations: list[Invitation] = []
        for index, item in enumerate(page.items):
            try:
                invitations.append(parse_invitation(item))
            except PayloadError as exc:
                application_id = item.get("application_id") if isinstance(item, dict) else None
                self.context.log(
                    "reference.invitation_skipped",
                    level="warning",
                    index=index,
                    application_id=application_id if isinstance(application_id, str) else None,
                    problems="; ".join(exc.problems),
                )
        more = page.next is not None and len(page.items) == limit
        return PollPage(invitations, cursor=page.next or cursor, more=more)

    def push_result(self, pushback: Pushback) -> None:
        """PUT the result version into the application; idempotent per version.

        A 409 "stale version" means the ATS already holds a newer version of this result,
        which is what this delivery was heading for: it counts as delivered."""
        order, result = pushback.order, pushback.result
        body = {
            "result_id": order.result_id,
            "version": pushback.version,
            "score": result.score,
            "subscores": dict(result.subscores),
            "report_url": result.assessment_report_url,
            "recruitment_url": result.recruitment_url,
        }
        what = "write the result back"
        answer = self.ats.request(
            "PUT",
            ASSESSMENT_PATH,
            params={"id": order.application_id},
            json_body=body,
            what=what,
            accept=(409,),
        )
        if answer.status != 409:
            return
        if not _says_stale(answer.body):
            raise status_error(
                409, answer.body, what=what, secrets=[self.config.api_token.reveal()]
            )
        self.context.log(
            "reference.result_stale",
            application_id=order.application_id,
            result_id=order.result_id,
            version=pushback.version,
        )

    def check(self) -> str:
        """`GET /api/ping` with the token: proves the URL and the token."""
        self.ats.request("GET", "/api/ping", what="reach the ATS")
        return f"reference ATS at {self.config.base_url} answered"


def _says_stale(body: bytes) -> bool:
    """Whether a 409's `error` says the ATS holds a newer version (§ Write-back)."""
    try:
        error = codec.parse_json(body, what="409 answer").get("error")
    except (PayloadError, AttributeError):
        return False
    return isinstance(error, str) and "stale" in error.lower()
