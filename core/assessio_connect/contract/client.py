"""`AssessioClient`: the three Assessio-hosted endpoints for one organisation (one tenant)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import attrs

from . import codec
from .errors import PayloadError, UnexpectedResponseError, error_for_status
from .models import AssessioConfig, AssessmentLink, AssessmentOrder
from .signing import SIGNATURE_HEADER, sign
from .transport import HTTPResponse, RetryPolicy, Transport, default_transport

__all__ = [
    "ENVIRONMENTS",
    "AssessioClient",
    "ClientSettings",
    "Environment",
    "SecretProof",
    "SecretVerdict",
]

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


SecretVerdict = Literal["proven", "refused", "unchecked", "unsigned"]

_PROBE_BODY = b"{}"
"""An assessment order with none of the fields the contract requires: nothing can be created
from it, whatever the signature."""
_REFUSED = (401, 403)
_INVALID = (400, 422)


@attrs.frozen
class SecretProof:
    """What `AssessioClient.prove_integrator_secret` found out, in words a person can act on."""

    verdict: SecretVerdict
    """`proven`: Assessio verified the signature; `refused`: it refused the signature (or the
    lack of one); `unchecked`: it checks no signature here; `unsigned`: no secret, none needed."""
    reason: str

    @property
    def proven(self) -> bool:
        return self.verdict == "proven"


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

    def prove_integrator_secret(self) -> SecretProof:
        """Prove that Assessio accepts this client's integrator-secret, ordering nothing.

        Signed POSTs of an empty order (`{}`) to the order endpoint: one signed with the secret,
        one with a random secret. Where Assessio verifies a POST's `Signature` before it reads
        the order (as the emulator does), a good secret draws 400/422 (the order is invalid)
        while the random one draws 401/403; a wrong secret draws 401/403. When both are
        answered alike, no signature was checked (the sandbox can switch signing off): that is
        said, never passed for proof. Without a secret, one unsigned empty order tells whether
        Assessio needs one. Raises `TransportError`, or `APIError` for 429 and 5xx, when no
        answer could be had.
        """
        secret = self._integrator_secret
        if not secret:
            unsigned = self._probe(None)
            if unsigned.status in _REFUSED:
                return SecretProof(
                    "refused",
                    f"no integrator-secret is set, and Assessio refused an unsigned request "
                    f"(HTTP {unsigned.status}: {_excerpt(unsigned)}): this organisation needs "
                    "its requests signed",
                )
            return SecretProof(
                "unsigned", "no integrator-secret is set, and Assessio takes unsigned requests"
            )
        signed = self._probe(secret)
        if signed.status in _REFUSED:
            return SecretProof(
                "refused",
                f"Assessio refused a request signed with it (HTTP {signed.status}: "
                f"{_excerpt(signed)})",
            )
        if signed.status not in _INVALID:
            return SecretProof(
                "unchecked",
                f"Assessio answered HTTP {signed.status} to an empty order instead of refusing "
                "it as invalid, so its answer says nothing about the signature",
            )
        tampered = self._probe(secrets.token_hex(32))
        if tampered.status in _REFUSED:
            return SecretProof(
                "proven",
                "a request signed with it passed Assessio's signature check; one signed with "
                "a wrong secret was refused",
            )
        return SecretProof(
            "unchecked",
            f"Assessio checks no signature for this organisation (a request signed with a "
            f"wrong secret was answered HTTP {tampered.status} too, not 401)",
        )

    def _probe(self, secret: str | None) -> HTTPResponse:
        """One POST of the empty order, signed with `secret` if any; raises for 429 and 5xx."""
        url = self.base_url + self.settings.order_path
        headers = self._headers(_PROBE_BODY, secret)
        response = self.transport.exchange("POST", url, body=_PROBE_BODY, headers=headers)
        if response.status == 429 or response.status >= 500:
            raise error_for_status(response.status, response.body, method="POST", url=url)
        return response

    def _headers(self, body: bytes | None, secret: str | None) -> dict[str, str]:
        built = {"Accept": "application/json"}
        if self.settings.provider_key_header.lower() == "authorization":
            built["Authorization"] = f"Bearer {self._provider_key}"
        else:
            built[self.settings.provider_key_header] = self._provider_key
        if body is not None:
            built["Content-Type"] = "application/json"
        if secret and (body is not None or self.settings.sign_get):
            built[SIGNATURE_HEADER] = sign(secret, body or b"", int(self._clock()))
        return built

    def _call(self, method: str, path: str, body: bytes | None) -> HTTPResponse:
        def headers() -> dict[str, str]:  # built afresh per attempt: a fresh signature
            return self._headers(body, self._integrator_secret)

        return self.transport.send(
            method, self.base_url + path, body=body, headers=headers, retry=self.retry
        )

    def _decode(self, response: HTTPResponse, cls: type[_T], what: str) -> _T:
        try:
            return codec.loads(response.body, cls, what=what)
        except PayloadError as exc:
            raise UnexpectedResponseError(
                response.status, f"unreadable {what}: {exc}".encode()
            ) from None


def _excerpt(response: HTTPResponse) -> str:
    return error_for_status(response.status, response.body).body_excerpt or "no body"
