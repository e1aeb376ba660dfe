"""The Greenhouse connector (`kind = "greenhouse"`) for assessio-connect, and a fake Greenhouse.

Two ways in, either or both per tenant:

- **Web hook mode.** Greenhouse POSTs `candidate_stage_change` to
  `{daemon}/connectors/{tenant}/webhook`; a move into a configured stage orders an assessment
  for the candidate in that job. Results go back through Harvest v3: a note per result version
  and, where configured, candidate custom fields.
- **Assessment Partner mode.** Greenhouse calls `list_tests`, `send_test`, `test_status` and
  `request_errors` under `{daemon}/connectors/{tenant}/`; a result is announced with a PATCH to
  the completion `url` Greenhouse gave in `send_test`.

Harvest v3 is reached with OAuth: a custom integration's client credentials, or a partner
integration's authorization code grant (`assessio-connect greenhouse connect`, then
`/connectors/{tenant}/oauth/callback`). See the package README for the configuration;
`assessio_connect_greenhouse.fake` holds `FakeGreenhouse` for tests.
"""

from __future__ import annotations

from ._authorization import AuthorizationRequests, authorization_url, callback_url
from ._completion import completion_url
from ._config import (
    CustomFieldMap,
    GreenhouseConfig,
    OAuthSettings,
    PartnerSettings,
    StageTrigger,
    WebhookSettings,
)
from ._connector import MAX_REQUEST_BYTES, GreenhouseConnector
from ._demo import GreenhouseDemo
from ._harvest import HarvestClient
from ._partner_oauth import PartnerConnection, StoredTokens, reconnect_command
from ._tokens import GrantRefused, TokenEndpoint, TokenGrant
from ._webhook import EVENT_ID_HEADER, SIGNATURE, parse_stage_change

__all__ = [
    "EVENT_ID_HEADER",
    "MAX_REQUEST_BYTES",
    "SIGNATURE",
    "AuthorizationRequests",
    "CustomFieldMap",
    "GrantRefused",
    "GreenhouseConfig",
    "GreenhouseConnector",
    "GreenhouseDemo",
    "HarvestClient",
    "OAuthSettings",
    "PartnerConnection",
    "PartnerSettings",
    "StageTrigger",
    "StoredTokens",
    "TokenEndpoint",
    "TokenGrant",
    "WebhookSettings",
    "authorization_url",
    "callback_url",
    "completion_url",
    "parse_stage_change",
    "reconnect_command",
]
