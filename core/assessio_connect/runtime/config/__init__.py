"""The daemon's multi-tenant TOML configuration: loading, validation, secret references, redaction.

One module a concern: `_models` (the validated tables), `_secrets` (references and the
built-in schemes), `_values` (durations), `_validation` (strict TOML reading, each key's
checks), `_redaction` (what is shown instead of a secret) and `_loading` (a file, every
problem at once); the names below are their public face.

Every problem in a file is reported at once, each as `message @ path`, in one `ConfigError`::

    [server]
    listen = "127.0.0.1:8080"            # host:port; [::1]:8080 for IPv6; port 0 = ephemeral
    public_url = "https://connect.example.com"   # base of every resultUpdateUrl;
                                         # default http://<listen>
    max_body_bytes = 1048576             # at least 1024
    threads = 8
    connection_limit = 500               # open connections served at once
    header_timeout = "10s"               # to send the request line and headers
    body_timeout = "30s"                 # to send the body, once the headers are in
    idle_timeout = "75s"                 # a keep-alive connection between requests

    [store]
    url = "sqlite:///assessio-connect.db"   # a relative sqlite path is relative to this file

    [delivery]
    workers = 4
    horizon = "36h"          # a number of seconds, or "90s" "15m" "36h" "2d"
    first_delay = "1s"
    max_delay = "1h"
    lease = "60s"

    [tenants.acme]                       # name: ^[a-z0-9][a-z0-9_-]{0,62}$ (used in URL paths)
    environment = "sandbox"              # sandbox | production; or base_url = "http://..."
    provider_key = { env = "ACME_PROVIDER_KEY" }
    integrator_secret = { file = "/run/secrets/acme-integrator" }   # optional
    provider_key_header = "provider-key" # optional, see assessio_connect.ClientSettings
    sign_get = false
    order_endpoint = "order"             # "order" (invite e-mail) or "link" (assessment link)

    [tenants.acme.webhook]               # how Assessio authenticates result webhooks
    api_keys = [{ env = "ACME_RESULT_KEY" }]             # at least one of the two lists
    signing_secrets = [{ env = "ACME_RESULT_SIGNING" }]
    tolerance = 300

    [tenants.acme.assessment]
    lens = "General Performance"         # default lens (id or name)
    locale = "en-GB"
    collaborators = ["recruiter@acme.example"]
    hiring_team_as_collaborators = false

    [[tenants.acme.assessment.rules]]    # first match wins; match on job and/or department
    job = "4012"
    department = "Engineering"           # compared case-insensitively
    lens = "Leadership"                  # lens, locale and collaborators are each optional
    locale = "sv-SE"
    collaborators = ["cto@acme.example"]

    [tenants.acme.ats]
    kind = "reference"                   # selects the connector; the rest is its `Config`

Secrets are never literal values but references, `{scheme = "reference"}`, resolved while
loading: `env` (an environment variable) and `file` (a file's text minus one trailing newline; a
relative path is relative to the configuration file) are built in, plugins may add schemes. A
connector's `Config` may declare fields of type `Secret` (or `Secret | None`, `tuple[Secret, ...]`)
that are written as references too. A `Secret` shows only its reference; `reveal()` gives the
value.
"""

from __future__ import annotations

from ._loading import (
    ConnectorConfigLookup,
    load_config,
    load_daemon_config,
    parse_config,
    store_url_from_file,
    tenant_kinds_from_file,
)
from ._models import (
    AssessmentRule,
    AssessmentRules,
    DaemonConfig,
    DeliveryConfig,
    ServerConfig,
    StatusConfig,
    TenantConfig,
    WebhookConfig,
)
from ._secrets import Secret, SecretResolver, resolve_builtin_secret
from ._values import format_duration, parse_duration

__all__ = [
    "AssessmentRule",
    "AssessmentRules",
    "ConnectorConfigLookup",
    "DaemonConfig",
    "DeliveryConfig",
    "Secret",
    "SecretResolver",
    "ServerConfig",
    "StatusConfig",
    "TenantConfig",
    "WebhookConfig",
    "format_duration",
    "load_config",
    "load_daemon_config",
    "parse_config",
    "parse_duration",
    "resolve_builtin_secret",
    "store_url_from_file",
    "tenant_kinds_from_file",
]
