"""assessio-connect: connect Applicant Tracking Systems to Assessio's Recruitment API."""

from __future__ import annotations

from ._version import __version__
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

__all__ = [
    "APIError",
    "AssessioConfig",
    "AssessioError",
    "AssessmentLink",
    "AssessmentOrder",
    "AuthenticationError",
    "CandidateDetails",
    "ConflictError",
    "Lens",
    "MalformedSignatureError",
    "MissingSignatureError",
    "PayloadError",
    "RateLimitedError",
    "Recruitment",
    "Result",
    "ServerError",
    "SignatureError",
    "SignatureMismatchError",
    "TimestampOutOfToleranceError",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "__version__",
    "converter",
    "dumps",
    "loads",
    "sign",
    "structure",
    "unstructure",
    "verify",
]
