"""`AssessioClient`: the three Assessio-hosted endpoints for one organisation (one tenant)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import attrs

from . import codec
from .errors import PayloadError, UnexpectedResponseError
from .models import AssessioConfig, AssessmentLink, AssessmentOrder
from .signing import SIGNATURE_HEADER, sign
from .transport import HTTPResponse, RetryPolicy, Transport, default_transport

__all__ = ["ENVIRONMENTS", "AssessioClient", "ClientSettings", "Environment"]

_T = TypeVar("_T")

Environment = Literal["sandbox", "production"]

ENVIRONMENTS: dict[str, str] = {
    "sandbox": "https://sandbox.api.assessio.systems",
    "production": "https://api.assessio.online",
}


@attrs.frozen
class ClientSettings:
    """The contract's open decisions, with its defaults (see the contract's decisions 1-3)."""

    provider_key_header: str = "provider-key"
    """Header that carries the provider-key; `Authorization` sends `Bearer <key>`."""
    sign_get: bool = False
    """Also sign GET requests (over the empty body)."""
    config_path: str = "/recruitment/v1/config"
    order_path: str = "/recruitment/v1/assessment-order"
    link_path: str = "/recruitment/v1/assessment-link-order"


class AssessioClient:
    """Calls Assessio's Recruitment API v1 for one organisation.

    Requests are signed with `integrator_secret` when one is given (Assessio can switch
    signing off in its sandbox). Clients share one connection pool unless given a `transport`.
    """

    def __init__(
        self,
        provider_key: str,
        integrator_secret: str | None = None,
        environment: Environment = "sandbox",
        base_url: str | None = None,
        *,
        settings: ClientSettings | None = None,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not provider_key:
            raise ValueError("provider_key is required: it identifies the Assessio organisation")
        if base_url is None:
            if environment not in ENVIRONMENTS:
                choices = ", ".join(sorted(ENVIRONMENTS))
                raise ValueError(f"unknown environment {environment!r}; choose one of {choices}")
            base_url = ENVIRONMENTS[environment]
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.settings = settings or ClientSettings()
        self.retry = retry or RetryPolicy()
        self.transport = transport or default_transport()
        self._provider_key = provider_key
        self._integrator_secret = integrator_secret
        self._clock = clock

    def __repr__(self) -> str:
        signed = "signed" if self._integrator_secret else "unsigned"
        return f"AssessioClient(base_url={self.base_url!r}, {signed})"

    def get_config(self) -> AssessioConfig:
        """The lenses and locales this organisation may use in orders."""
        response = self._call("GET", self.settings.config_path, None)
        return self._decode(response, AssessioConfig, "config")

    def create_order(self, order: AssessmentOrder) -> str:
        """Send an assessment order; returns Assessio's reference (the JSON string it answers)."""
        response = self._call("POST", self.settings.order_path, codec.dumps(order))
        if not response.body.strip():
            return ""
        try:
            answer = json.loads(response.body)
        except ValueError:
            return response.body.decode("utf-8", errors="replace")
        return answer if isinstance(answer, str) else json.dumps(answer)

    def create_order_link(self, order: AssessmentOrder) -> AssessmentLink:
        """Send an assessment order and get the candidate's assessment link.

        Raises `ConflictError` when the candidate's email is already in the recruitment.
        """
        response = self._call("POST", self.settings.link_path, codec.dumps(order))
        return self._decode(response, AssessmentLink, "assessment link")

    def _call(self, method: str, path: str, body: bytes | None) -> HTTPResponse:
        url = self.base_url + path

        def headers() -> dict[str, str]:
            built = {"Accept": "application/json"}
            if self.settings.provider_key_header.lower() == "authorization":
                built["Authorization"] = f"Bearer {self._provider_key}"
            else:
                built[self.settings.provider_key_header] = self._provider_key
            if body is not None:
                built["Content-Type"] = "application/json"
            if self._integrator_secret and (body is not None or self.settings.sign_get):
                built[SIGNATURE_HEADER] = sign(
                    self._integrator_secret, body or b"", int(self._clock())
                )
            return built

        return self.transport.send(method, url, body=body, headers=headers, retry=self.retry)

    def _decode(self, response: HTTPResponse, cls: type[_T], what: str) -> _T:
        try:
            return codec.loads(response.body, cls, what=what)
        except PayloadError as exc:
            raise UnexpectedResponseError(
                response.status, f"unreadable {what}: {exc}".encode()
            ) from None
