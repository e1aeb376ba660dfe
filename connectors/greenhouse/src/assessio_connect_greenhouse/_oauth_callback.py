"""`GET /connectors/{tenant}/oauth/callback`: where Greenhouse sends the customer's browser
back with `code` and `state` after they approved the partner app. The code (valid one minute)
is exchanged at once and the tokens kept; the person sees a page saying what happened."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from assessio_connect.errors import ConnectorError, RetryableError

from ._authorization import AuthorizationRequests
from ._http import Reply, page
from ._partner_oauth import PartnerConnection, reconnect_command

__all__ = ["handle_callback"]


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0][:500] if values and len(values) == 1 and values[0] else None


def handle_callback(
    environ: Mapping[str, Any],
    requests: AuthorizationRequests,
    connection: PartnerConnection,
    *,
    tenant: str,
    log: Callable[..., None],
) -> Reply:
    """Check the `state` (single use), then trade the code for tokens."""
    query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
    command = reconnect_command(tenant)
    state = _one(query, "state")
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
    refused = _one(query, "error")
    if refused is not None:
        description = _one(query, "error_description") or ""
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
    code = _one(query, "code")
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
