"""assessio-connect: connect Applicant Tracking Systems to Assessio's Recruitment API."""

from __future__ import annotations

from . import codec, signing
from ._cli_runtime import load_daemon_config
from ._version import __version__
from .client import AssessioClient, ClientSettings, SecretProof
from .codec import converter, dumps, loads, structure, unstructure
from .config import DaemonConfig, Secret, TenantConfig, load_config
from .connector import (
    AssessmentChoice,
    AtsCandidate,
    AtsJob,
    Connector,
    ConnectorContext,
    ConnectorState,
    Invitation,
    OrderDraft,
    PollPage,
    Pushback,
)
from .daemon import Daemon
from .errors import (
    APIError,
    AssessioError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    ConnectorError,
    MalformedSignatureError,
    MissingSignatureError,
    PayloadError,
    PermanentError,
    PluginError,
    RateLimitedError,
    RetryableError,
    ServerError,
    SignatureError,
    SignatureMismatchError,
    StoreError,
    StoreUnavailableError,
    TimestampOutOfToleranceError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    WebhookAuthenticationError,
)
from .hookspecs import hookimpl, hookspec
from .models import (
    AssessioConfig,
    AssessmentLink,
    AssessmentOrder,
    CandidateDetails,
    Lens,
    Recruitment,
    Result,
)
from .plugins import Plugins, load_plugins
from .receiver import ResultReceiver
from .signing import sign, verify
from .store import StateEntry, Store
from .transport import RetryPolicy, Transport
from .webhook import WebhookAuth, parse_result

__all__ = [
    "APIError",
    "AssessioClient",
    "AssessioConfig",
    "AssessioError",
    "AssessmentChoice",
    "AssessmentLink",
    "AssessmentOrder",
    "AtsCandidate",
    "AtsJob",
    "AuthenticationError",
    "CandidateDetails",
    "ClientSettings",
    "ConfigError",
    "ConflictError",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorState",
    "Daemon",
    "DaemonConfig",
    "Invitation",
    "Lens",
    "MalformedSignatureError",
    "MissingSignatureError",
    "OrderDraft",
    "PayloadError",
    "PermanentError",
    "PluginError",
    "Plugins",
    "PollPage",
    "Pushback",
    "RateLimitedError",
    "Recruitment",
    "Result",
    "ResultReceiver",
    "RetryPolicy",
    "RetryableError",
    "Secret",
    "SecretProof",
    "ServerError",
    "SignatureError",
    "SignatureMismatchError",
    "StateEntry",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "TenantConfig",
    "TimestampOutOfToleranceError",
    "Transport",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "WebhookAuth",
    "WebhookAuthenticationError",
    "__version__",
    "codec",
    "converter",
    "dumps",
    "hookimpl",
    "hookspec",
    "load_config",
    "load_daemon_config",
    "load_plugins",
    "loads",
    "parse_result",
    "sign",
    "signing",
    "structure",
    "unstructure",
    "verify",
]
