"""The daemon's OpenAPI document: served at GET /openapi.json, in step with the receiver's
documented answers, and true of a live daemon (schemathesis, a bounded number of examples)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assessio_connect.runtime import receiver
from assessio_connect.runtime._openapi import OPENAPI_PATH, openapi_document
from assessio_connect.runtime._routing import CONNECTOR_PREFIX
from assessio_connect.runtime.daemon import Daemon
from daemon_harness import SECRETS, harness

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "head", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def live_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """The daemon of the two-tenant test world (reference connectors: acme push, globex pull)."""
    with harness(tmp_path_factory.mktemp("openapi")) as world:
        daemon = Daemon(world.load(), world.plugins)
        with daemon:
            yield daemon


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


def _receiver_tables() -> tuple[set[tuple[str, str]], set[int]]:
    """The receiver's documented routes (method, path) and the statuses of its checks table."""
    doc = receiver.__doc__ or ""
    routes = set(re.findall(r"^\s{4}(GET|POST|HEAD)\s+(/\S+)", doc, re.MULTILINE))
    statuses = {int(code) for code in re.findall(r"^\s{4}([1-5][0-9]{2})\s", doc, re.MULTILINE)}
    return {(method.lower(), path) for method, path in routes}, statuses


def test_the_document_is_served_at_its_documented_path(live_daemon: Daemon) -> None:
    served = _get_json(live_daemon.url + OPENAPI_PATH)
    assert served == openapi_document()
    assert served["openapi"].startswith("3.0.")
    assert OPENAPI_PATH in (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")


def test_the_document_describes_every_route_the_receiver_documents() -> None:
    routes, statuses = _receiver_tables()
    paths = openapi_document()["paths"]
    documented = {
        (method, path.replace("{resultId}", "{resultId}"))
        for path, operations in paths.items()
        if not path.startswith(CONNECTOR_PREFIX)
        for method, operation in operations.items()
        if method != "head" and "operator" not in operation.get("tags", ())
    }
    assert routes == documented
    result_answers = set(paths["/results/{tenant}/{resultId}"]["post"]["responses"])
    # 405 is a method other than POST on the route: not an operation of the document.
    assert {str(status) for status in statuses - {405}} == result_answers
    connector = next(path for path in paths if path.startswith(CONNECTOR_PREFIX))
    assert connector == CONNECTOR_PREFIX + "{tenant}/{path}"
    assert set(paths[connector]) == {"get", "post", "put", "patch", "delete"}


def test_every_operation_documents_its_error_bodies_and_headers() -> None:
    paths = openapi_document()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert method in METHODS, (path, method)
            assert operation["responses"], (path, method)
    post = paths["/results/{tenant}/{resultId}"]["post"]["responses"]
    assert "WWW-Authenticate" in post["401"]["headers"]
    assert "Retry-After" in post["503"]["headers"]


# Loaded from the document the daemon serves (test_the_document_is_served_at_its_documented_path
# checks the served one is this one); the live daemon's URL is given per call.
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_live_daemon_answers_as_its_document_says(case: Any, live_daemon: Daemon) -> None:
    """No 5xx, and every status, content type, header and body as documented. Acme's
    integrator-api-key goes along so the documented example reaches the store."""
    case.call_and_validate(
        base_url=live_daemon.url,
        headers={"integrator-api-key": SECRETS["acme_result_key"]},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )


def test_the_documented_example_is_stored_as_documented(live_daemon: Daemon) -> None:
    operation = schema["/results/{tenant}/{resultId}"]["POST"]
    documented = openapi_document()["paths"]["/results/{tenant}/{resultId}"]["post"]
    parameters = {p["name"]: p["example"] for p in documented["parameters"]}
    example = documented["requestBody"]["content"]["application/json"]["example"]
    case = operation.Case(path_parameters=parameters, body=example, media_type="application/json")
    response = case.call_and_validate(
        base_url=live_daemon.url, headers={"integrator-api-key": SECRETS["acme_result_key"]}
    )
    assert response.status_code in (200, 202)
    assert response.json()["status"] in ("stored", "orphan", "duplicate")
    assert live_daemon.store.get_result("acme", "r-1") is not None


def test_every_operator_route_the_daemon_mounts_is_in_the_document(live_daemon: Daemon) -> None:
    """Routes mounted beside the receiver (e.g. /metrics, /status) belong in the document too:
    add them to assessio_connect.runtime._openapi when mounting them."""
    mounted = set(getattr(live_daemon.app, "_operator_apps", {}))
    paths = openapi_document()["paths"]
    undocumented = sorted(
        prefix
        for prefix in mounted
        if not any(path == prefix or path.startswith(prefix + "/") for path in paths)
    )
    assert not undocumented, f"mounted but not in the OpenAPI document: {undocumented}"
