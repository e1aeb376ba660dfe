"""assessio-connect: connect Applicant Tracking Systems to Assessio's Recruitment API."""

from __future__ import annotations

from . import codec, signing
from ._version import __version__
from .client import AssessioClient, ClientSettings
from .codec import converter, dumps, loads, structure, unstructure
from .errors import (
    APIError,
    AssessioError,
    AuthenticationError,
    ConflictError,
    MalformedSignatureError,
    MissingSignatureError,
    PayloadError,
    RateLimitedError,
    ServerError,
    SignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    WebhookAuthenticationError,
)
from .models import (
    AssessioConfig,
    AssessmentLink,
    AssessmentOrder,
    CandidateDetails,
    Lens,
    Recruitment,
    Result,
)
from .signing import sign, verify
from .transport import RetryPolicy, Transport
from .webhook import WebhookAuth, parse_result

__all__ = [
    "APIError",
    "AssessioClient",
    "AssessioConfig",
    "AssessioError",
    "AssessmentLink",
    "AssessmentOrder",
    "AuthenticationError",
    "CandidateDetails",
    "ClientSettings",
    "ConflictError",
    "Lens",
    "MalformedSignatureError",
    "MissingSignatureError",
    "PayloadError",
    "RateLimitedError",
    "Recruitment",
    "Result",
    "RetryPolicy",
    "ServerError",
    "SignatureError",
    "SignatureMismatchError",
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
    "loads",
    "parse_result",
    "sign",
    "signing",
    "structure",
    "unstructure",
    "verify",
]
