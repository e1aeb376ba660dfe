"""Web hook mode: `POST /webhook` checks Greenhouse's signature and what the event asks for,
queues a stage change that orders (keyed by its `Greenhouse-Event-ID`) and answers 200 at once;
the queued event is handled later, when reading the hiring team through Harvest can be retried
without keeping Greenhouse waiting."""

from __future__ import annotations

from collections.abc import Callable

from assessio_connect import (
    Answer,
    AtsCandidate,
    AtsJob,
    ConfigError,
    ConnectorContext,
    InboundEvent,
    Invitation,
    PayloadError,
    PermanentError,
    Request,
    RequestRefused,
)

from ._config import WebhookSettings
from ._harvest import HarvestClient
from ._jobs import hiring_team_emails
from ._reading import read_json
from ._webhook import EVENT_ID_HEADER, SIGNATURE, StageChange, parse_stage_change

__all__ = ["WebhookMode"]

_WHAT = "Greenhouse web hook"


class WebhookMode:
    """One tenant's web hooks: `accept` is the route, `handle` the queued event's handler."""

    def __init__(
        self,
        settings: WebhookSettings,
        context: ConnectorContext,
        harvest: Callable[[], HarvestClient],
        *,
        hiring_team: bool,
    ) -> None:
        self._settings = settings
        self._context = context
        self._harvest = harvest
        self._hiring_team = hiring_team

    def accept(self, request: Request) -> Answer:
        """A signed event (401 otherwise). `ping` and events that order nothing are answered
        200 at once; a stage change that orders is queued once per `Greenhouse-Event-ID` and
        answered 200 (Greenhouse counts any other status as a failure and sends it again)."""
        SIGNATURE.verify(request, self._settings.secret_key)
        data = read_json(request, what=_WHAT)
        action = data.get("action") if isinstance(data, dict) else None
        if action == "ping":
            return Answer.json(200, {"status": "ok"})
        if action != "candidate_stage_change":
            return _ignored(f"action {action!r} is not used")
        change = parse_stage_change(data)  # 422 with each problem
        reason = self._ignored_because(change)
        if reason is not None:
            return _ignored(reason)
        if change.email is None:
            self._unusable(change)
            raise RequestRefused(
                422, f"candidate {change.candidate_id} has no valid e-mail address to invite"
            )
        event_id = (request.header(EVENT_ID_HEADER) or "").strip()
        new = self._context.enqueue(event_id, request.body)  # 422 without an event id
        if not new:
            self._context.log("greenhouse.webhook_duplicate", event_id=event_id)
        return Answer.json(
            200, {"status": "accepted" if new else "duplicate", "event_id": event_id}
        )

    def handle(self, event: InboundEvent) -> None:
        """Order the queued stage change's candidate, unless the application has an order:
        the hiring team is read through Harvest when it becomes collaborators (Harvest down:
        `RetryableError`, and the event is tried again later)."""
        try:
            change = parse_stage_change(event.json())
        except PayloadError as exc:
            raise PermanentError(f"queued {_WHAT} {event.key}: {exc}") from None
        reason = self._ignored_because(change)  # the stages may have changed since
        if reason is not None:
            self._context.log("greenhouse.event_ignored", event_id=event.key, reason=reason)
            return
        order = self._context.find_order(change.application_id)
        if order is None:
            if change.email is None or change.job_id is None:
                self._unusable(change)
                raise PermanentError(
                    f"candidate {change.candidate_id} has no valid e-mail address to invite"
                )
            invitation = self._invitation(change, change.job_id, change.email)
            try:
                order = self._context.invite(invitation)
            except ConfigError as exc:
                raise PermanentError(
                    f"cannot order application {change.application_id}: "
                    + "; ".join(exc.problems)
                    + "; fix the tenant's [assessment] rules, then retry the event "
                    "(`assessio-connect events retry --dead`)"
                ) from None
        self._context.log(
            "greenhouse.stage_change",
            event_id=event.key,
            application_id=order.application_id,
            result_id=order.result_id,
        )

    def _ignored_because(self, change: StageChange) -> str | None:
        """Why the stage change orders nothing, or None when it orders."""
        if change.prospect or change.job_id is None:
            return "a prospect application (no job stage)"
        job_id = change.job_id
        if not any(
            stage.matches(change.stage_id, change.stage_name, job_id)
            for stage in self._settings.stages
        ):
            return f"stage {change.stage_name or change.stage_id!r} does not order an assessment"
        return None

    def _unusable(self, change: StageChange) -> None:
        self._context.log(
            "greenhouse.webhook_unusable",
            level="error",
            application_id=change.application_id,
            reason="the candidate has no valid e-mail address",
        )

    def _invitation(self, change: StageChange, job_id: str, email: str) -> Invitation:
        """The order's invitation; the job's hiring team is read when it becomes collaborators
        (Harvest down: raised, to try again; refused: ordered without them)."""
        team: tuple[str, ...] = ()
        if self._hiring_team:
            try:
                team = hiring_team_emails(self._harvest(), job_id)
            except PermanentError as exc:
                self._context.log(
                    "greenhouse.hiring_team_unavailable",
                    level="error",
                    job_id=job_id,
                    error=str(exc),
                )
        return Invitation(
            application_id=change.application_id,
            job=AtsJob(
                id=job_id,
                title=change.job_name,
                description=change.job_description,
                department=change.department,
                hiring_team=team,
            ),
            candidate=AtsCandidate(id=change.candidate_id, email=email, name=change.candidate_name),
            metadata={"mode": "webhook", "stage": change.stage_name or change.stage_id or ""},
        )


def _ignored(reason: str) -> Answer:
    return Answer.json(200, {"status": "ignored", "reason": reason})
