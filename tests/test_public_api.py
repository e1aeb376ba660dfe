"""The package's public surface: what `import assessio_connect` promises."""

from __future__ import annotations

import importlib
import importlib.resources

import assessio_connect

EXPECTED = {
    # What connectors and their tests need of the runtime (records, states, the state
    # backends, the recruitment id) and the kit's HTTP response type.
    "DeliveryState",
    "HTTPResponse",
    "MemoryState",
    "OrderRecord",
    "OrderState",
    "ResultRecord",
    "StoreState",
    "recruitment_id",
    # The connector kit's most used names (all of them in assessio_connect.kit).
    "Answer",
    "AtsHttp",
    "BodyHmac",
    "CursorPages",
    "FieldsHmac",
    "LinkHeaderPages",
    "OffsetPages",
    "RateLimiter",
    "Receipts",
    "Request",
    "RequestRefused",
    "Routes",
    "TimestampedHmac",
    "as_connector_errors",
    "kit",
    "AssessmentChoice",
    "AtsCandidate",
    "AtsJob",
    "ConfigError",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorState",
    "Daemon",
    "DaemonConfig",
    "InboundEvent",
    "Invitation",
    "OrderDraft",
    "PermanentError",
    "PluginError",
    "Plugins",
    "PollPage",
    "Pushback",
    "ResultReceiver",
    "RetryableError",
    "Secret",
    "SecretProof",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "TenantConfig",
    "hookimpl",
    "hookspec",
    "load_config",
    "load_daemon_config",
    "load_plugins",
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
    "StateEntry",
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
}


def test_public_surface_is_exactly_what_is_documented() -> None:
    assert set(assessio_connect.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(assessio_connect, name), name


def test_every_module_declares_what_it_exports() -> None:
    for module_name in [
        "contract.client",
        "contract.codec",
        "contract.errors",
        "contract.models",
        "contract.signing",
        "contract.transport",
        "contract.webhook",
        "runtime.inbound",
        "store",
        "sandbox",
        "demo",
        "kit",
        "testing",
    ]:
        module = importlib.import_module(f"assessio_connect.{module_name}")
        exported = module.__all__
        for name in exported:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_every_error_shares_one_root() -> None:
    errors = importlib.import_module("assessio_connect.contract.errors")
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert issubclass(value, assessio_connect.AssessioError), name


def test_package_is_typed() -> None:
    files = importlib.resources.files("assessio_connect")
    assert files.joinpath("py.typed").is_file()
