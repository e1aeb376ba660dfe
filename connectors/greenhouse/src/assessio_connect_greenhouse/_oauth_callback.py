"""`GET /connectors/{tenant}/oauth/callback`: where Greenhouse sends the customer's browser
back with `code` and `state` after they approved the partner app. The code (valid one minute)
is exchanged at once and the tokens kept; the person sees a page saying what happened."""

from __future__ import annotations

import html
from collections.abc import Callable

from assessio_connect import Answer, ConnectorError, Request, RetryableError

from ._authorization import AuthorizationRequests
from ._partner_oauth import PartnerConnection, reconnect_command

__all__ = ["handle_callback", "page"]


def page(status: int, text: str) -> Answer:
    """A minimal HTML page saying `text` (escaped), for a person in a browser."""
    body = (
        '<!doctype html><meta charset="utf-8"><title>assessio-connect</title>'
        f"<p>{html.escape(text)}</p>"
    )
    return Answer.text(status, body, content_type="text/html; charset=utf-8")


def _one(request: Request, name: str) -> str | None:
    """The query parameter `name` when given once and not empty (at most 500 characters)."""
    values = request.query.get(name, ())
    return values[0][:500] if len(values) == 1 and values[0] else None


def handle_callback(
    request: Request,
    requests: AuthorizationRequests,
    connection: PartnerConnection,
    *,
    tenant: str,
    log: Callable[..., None],
) -> Answer:
    """Check the `state` (single use), then trade the code for tokens."""
    command = reconnect_command(tenant)
    state = _one(request, "state")
    pending = requests.take(state) if state is not None else None
    if pending is None:
        log(
            "greenhouse.oauth_callback_refused",
            level="warning",
            reason="unknown, used or expired state",
        )
        return page(
            400,
            "This connection link is unknown, already used or expired, so nothing was changed. "
            f"For a new one, run: {command}",
        )
    refused = _one(request, "error")
    if refused is not None:
        description = _one(request, "error_description") or ""
        log(
            "greenhouse.oauth_callback_refused",
            level="warning",
            reason=refused,
            detail=description,
        )
        return page(
            400,
            f"Greenhouse did not authorize the connection ({refused}"
            f"{': ' + description if description else ''}). To try again, run: {command}",
        )
    code = _one(request, "code")
    if code is None:
        log("greenhouse.oauth_callback_refused", level="warning", reason="no code")
        return page(400, f"Greenhouse sent no authorization code. To try again, run: {command}")
    try:
        tokens = connection.connect(code, pending.redirect_uri)
    except ConnectorError as exc:
        log("greenhouse.oauth_connect_failed", level="error", error=str(exc))
        status = 503 if isinstance(exc, RetryableError) else 502
        return page(
            status,
            f"The connection could not be completed: {exc}. The link can be used only once; "
            f"for a new one, run: {command}",
        )
    return page(
        200,
        f"Greenhouse is connected to assessio-connect for tenant {tenant} ({tokens.describe()}). "
        "You can close this window.",
    )
