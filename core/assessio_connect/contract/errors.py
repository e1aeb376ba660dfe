"""One exception hierarchy for everything assessio-connect raises on purpose.

    AssessioError
    ├── PayloadError                 JSON that does not match the contract (lists every problem)
    ├── SignatureError               a `Signature` header that does not verify
    │   ├── MissingSignatureError
    │   ├── MalformedSignatureError
    │   ├── SignatureMismatchError
    │   └── TimestampOutOfToleranceError
    ├── WebhookAuthenticationError   a result webhook without valid credentials
    ├── TransportError               no usable HTTP response (connect, read, timeout, size cap)
    ├── ConfigError                  a configuration with problems (lists each one, with its path)
    ├── PluginError                  a plugin that cannot be loaded or registers something twice
    ├── StoreError                   the store refused an operation
    │   └── StoreUnavailableError    the store cannot be reached (the receiver answers 503)
    ├── ConnectorError               a connector could not talk to its ATS
    │   ├── RetryableError           worth another try (429, 5xx, timeouts); may carry retry_after
    │   └── PermanentError           will never succeed as is (bad data, 4xx): dead-lettered at once
    └── APIError                     Assessio answered with an error status
        ├── AuthenticationError      401, 403
        ├── ValidationError          400, 422
        ├── ConflictError            409 (e.g. candidate already in the recruitment)
        ├── RateLimitedError         429
        ├── ServerError              5xx
        └── UnexpectedResponseError  any other status, or a 2xx body that cannot be read

Messages are written for the person who has to act on them and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "APIError",
    "AssessioError",
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "ConnectorError",
    "MalformedSignatureError",
    "MissingSignatureError",
    "PayloadError",
    "PermanentError",
    "PluginError",
    "RateLimitedError",
    "RetryableError",
    "ServerError",
    "SignatureError",
    "SignatureMismatchError",
    "StoreError",
    "StoreUnavailableError",
    "TimestampOutOfToleranceError",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "WebhookAuthenticationError",
    "error_for_status",
]

BODY_EXCERPT_LIMIT = 300


class AssessioError(Exception):
    """Base of every error this package raises deliberately."""


class PayloadError(AssessioError, ValueError):
    """A JSON document does not match the contract; `problems` lists each one with its path."""

    def __init__(self, problems: Sequence[str], *, what: str = "payload") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.what = what
        super().__init__(f"invalid {what}: " + "; ".join(self.problems))


class SignatureError(AssessioError):
    """A `Signature` header could not be verified."""


class MissingSignatureError(SignatureError):
    """The request carries no `Signature` header."""


class MalformedSignatureError(SignatureError):
    """The header is not of the form `t=<unix seconds>,signature=<hex>`."""


class SignatureMismatchError(SignatureError):
    """No signature in the header matches the body under any configured secret."""


class TimestampOutOfToleranceError(SignatureError):
    """The signature's timestamp is too far in the past or in the future."""


class WebhookAuthenticationError(AssessioError):
    """A result webhook did not present a valid integrator-api-key or Signature."""


class TransportError(AssessioError):
    """No usable HTTP response: connection refused, timeout, reset, or response too large."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


def _excerpt(body: bytes) -> str:
    text = body[: BODY_EXCERPT_LIMIT * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    if len(text) > BODY_EXCERPT_LIMIT:
        text = text[: BODY_EXCERPT_LIMIT - 1] + "…"
    return text


class APIError(AssessioError):
    """An error status; carries the status, a body excerpt and any `Retry-After` in seconds."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        *,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.body_excerpt = _excerpt(body)
        self.method = method
        self.url = url
        where = f" for {method} {url}" if method else ""
        detail = f": {self.body_excerpt}" if self.body_excerpt else ""
        super().__init__(f"{self._summary} (HTTP {status}){where}{detail}")

    _summary = "Assessio returned an error"


class AuthenticationError(APIError):
    """401/403: the provider-key or the request signature was not accepted."""

    _summary = "Assessio rejected the credentials (check the provider-key and integrator-secret)"


class ValidationError(APIError):
    """400/422: Assessio refused the request's content; the excerpt holds its message."""

    _summary = "Assessio rejected the request as invalid"


class ConflictError(APIError):
    """409: e.g. the candidate's email is already in the referenced recruitment."""

    _summary = "Assessio reported a conflict (the candidate may already be in this recruitment)"


class RateLimitedError(APIError):
    """429: too many requests; `retry_after` is the server's hint in seconds, if any."""

    _summary = "Assessio is rate limiting this client"


class ServerError(APIError):
    """5xx: Assessio failed or is unavailable."""

    _summary = "Assessio had a server error"


class UnexpectedResponseError(APIError):
    """A status this client does not know how to treat, or a success body it cannot read."""

    _summary = "Assessio sent an unexpected response"


class ConfigError(AssessioError):
    """A configuration that cannot be used; `problems` lists each one as `message @ path`."""

    def __init__(self, problems: Sequence[str], *, source: str = "configuration") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source} has {count} {noun}:\n  " + "\n  ".join(self.problems))


class PluginError(AssessioError):
    """A plugin could not be loaded, or two plugins registered the same name."""


class StoreError(AssessioError):
    """The store refused an operation (a bug or a corrupt database, not a passing outage)."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or is locked for too long; the caller should retry later."""


class ConnectorError(AssessioError):
    """A connector failed to talk to its ATS; subclasses say whether to retry."""


class RetryableError(ConnectorError):
    """A failure worth retrying (rate limit, 5xx, timeout); `retry_after` is a hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """A failure that retrying will not fix (rejected data, missing ATS object): dead-letter it."""


def error_for_status(
    status: int,
    body: bytes,
    *,
    method: str = "",
    url: str = "",
    retry_after: float | None = None,
) -> APIError:
    """Map an HTTP error status to the matching `APIError` subclass."""
    cls: type[APIError]
    if status == 429:
        cls = RateLimitedError
    elif status in (401, 403):
        cls = AuthenticationError
    elif status in (400, 422):
        cls = ValidationError
    elif status == 409:
        cls = ConflictError
    elif 500 <= status <= 599:
        cls = ServerError
    else:
        cls = UnexpectedResponseError
    return cls(status, body, method=method, url=url, retry_after=retry_after)
