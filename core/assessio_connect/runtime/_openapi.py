"""The OpenAPI 3.0 document of the daemon's HTTP surface, served at `GET /openapi.json`.

It describes what the receiver answers (results, health, readiness, this document) and the
connector routes as opaque: each connector defines its own. tests/test_openapi.py keeps it in
step with the receiver's documented answers and runs schemathesis against a live daemon.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from assessio_connect.contract._version import __version__

__all__ = ["OPENAPI_PATH", "openapi_document", "openapi_json"]

OPENAPI_PATH = "/openapi.json"
_JSON = "application/json"

_SEGMENT = {"type": "string", "minLength": 1, "maxLength": 200}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_answer(description: str, schema: str, **headers: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": _ref(schema)}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    return _json_answer(description, "Error", **headers)


def _error_or_text(description: str) -> dict[str, Any]:
    """An answer the receiver gives as JSON, or waitress itself as text before the app runs."""
    answer = _error(description)
    answer["content"]["text/plain"] = {"schema": {"type": "string"}}
    return answer


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_CHALLENGE = {
    "description": "The accepted schemes (Bearer, Signature).",
    "required": True,
    "schema": {"type": "string"},
}


def _health(summary: str, *, unavailable: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json_answer("Yes.", "Status")}
    if unavailable:
        responses["503"] = _json_answer(
            "The store cannot be reached.", "Status", **{"Retry-After": _RETRY_AFTER}
        )
    get = {"summary": summary, "security": [], "responses": responses}
    return {"get": get, "head": {**get, "summary": summary + " (headers only)"}}


def _result_webhook() -> dict[str, Any]:
    return {
        "post": {
            "summary": "Assessio's result webhook for one of the tenant's orders",
            "description": (
                "Answered 2xx only once the result is committed. Authenticated with the "
                "tenant's integrator-api-key (or Bearer token) and/or a Signature header "
                "(HMAC-SHA256 over `<t>.<body>`), as the tenant is configured; an unknown "
                "tenant gets the same 401 as a wrong credential."
            ),
            "parameters": [
                {
                    "name": "tenant",
                    "in": "path",
                    "required": True,
                    "schema": _SEGMENT,
                    "example": "acme",
                },
                {
                    "name": "resultId",
                    "in": "path",
                    "required": True,
                    "schema": _SEGMENT,
                    "example": "r-1",
                },
            ],
            "security": [{"apiKey": []}, {"bearer": []}, {"signature": []}],
            "requestBody": {
                "required": True,
                "content": {
                    _JSON: {
                        "schema": _ref("Result"),
                        "example": {
                            "resultId": "r-1",
                            "score": 71,
                            "subscores": {"Driving Leadership": 73},
                        },
                    }
                },
            },
            "responses": {
                "200": _json_answer("Stored, updated, or a duplicate.", "Recorded"),
                "202": _json_answer(
                    "Stored for reconciliation: no order has this resultId.", "Recorded"
                ),
                "400": _error_or_text("Bad Content-Length, or not UTF-8 JSON, or not an object."),
                "401": _error(
                    "Missing or wrong credentials, or an unknown tenant.",
                    **{"WWW-Authenticate": _CHALLENGE},
                ),
                "404": _error("Not a result route (e.g. an encoded slash in a segment)."),
                "413": _error_or_text("The body is larger than [server] max_body_bytes."),
                "415": _error("Not application/json (or application/*+json) in UTF-8."),
                "422": _error("The result breaks the contract, or its resultId is not the URL's."),
                "500": _error("An unexpected error; retry later."),
                "503": _error(
                    "The store is unavailable; retry later.", **{"Retry-After": _RETRY_AFTER}
                ),
            },
        }
    }


def _status_page() -> dict[str, Any]:
    operation = {
        "summary": "The operators' status page (HTML; ?format=json for scripts)",
        "description": (
            "Off (404) until [status] token is set. Every page but /status/style.css needs "
            "the operator token: a browser signs in at /status/login and gets a session "
            "cookie; scripts send Authorization: Bearer <token>. See docs/operating.md."
        ),
        "tags": ["operator"],
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "page", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"default": {"description": "A page, a redirect to sign in, or 404."}},
    }
    return {"get": operation, "post": {**operation, "summary": "A form of the status page"}}


def _metrics() -> dict[str, Any]:
    return {
        "get": {
            "summary": "Prometheus metrics (text exposition format)",
            "description": (
                "This replica's counters and histograms, and gauges of the work in the store; "
                "no candidate data in any label. Unauthenticated, as Prometheus scrapes: keep "
                "it off the public listener (docs/operating.md, Monitoring)."
            ),
            "tags": ["operator"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The metrics, `text/plain; version=0.0.4`",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }


def _connector_route() -> dict[str, Any]:
    return {
        "summary": "A push-style connector's own route (opaque)",
        "description": (
            "Passed to the tenant's connector with SCRIPT_NAME /connectors/{tenant}; its "
            "methods, bodies, authentication and answers are the connector's. 404 when the "
            "tenant is unknown or not push style, or the path holds an encoded slash."
        ),
        "security": [],
        "parameters": [
            {"name": "tenant", "in": "path", "required": True, "schema": _SEGMENT},
            {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {"default": {"description": "The connector's answer, or 404."}},
    }


def _schemas() -> dict[str, Any]:
    score = {"type": "integer", "minimum": 0, "maximum": 100}
    return {
        "Result": {
            "type": "object",
            "description": "A candidate's result; fields Assessio adds are kept as received.",
            "required": ["resultId"],
            "properties": {
                "resultId": {"type": "string", "minLength": 1},
                "score": {**score, "nullable": True},
                "subscores": {"type": "object", "additionalProperties": score},
                "recruitmentUrl": {"type": "string", "nullable": True},
                "assessmentReportUrl": {"type": "string", "nullable": True},
            },
        },
        "Recorded": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["stored", "updated", "duplicate", "orphan"]},
                "version": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": False,
        },
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}},
            "additionalProperties": False,
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Each problem with its JSON path.",
                },
            },
            "additionalProperties": False,
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The document as plain data (do not modify it: it is shared)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "assessio-connect daemon",
            "version": __version__,
            "description": (
                "The connector daemon's HTTP surface: Assessio's result webhooks, health "
                "checks and the connectors' own routes."
            ),
        },
        "paths": {
            "/results/{tenant}/{resultId}": _result_webhook(),
            "/healthz": _health("Whether the process is up", unavailable=False),
            "/readyz": _health("Whether the store is reachable", unavailable=True),
            OPENAPI_PATH: {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0",
                            "content": {_JSON: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/status/{page}": _status_page(),
            "/metrics": _metrics(),
            "/connectors/{tenant}/{path}": {
                method: _connector_route() for method in ("get", "post", "put", "patch", "delete")
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "integrator-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {"type": "apiKey", "in": "header", "name": "Signature"},
            },
        },
    }


@cache
def openapi_json() -> bytes:
    """The document as served."""
    return json.dumps(openapi_document(), separators=(",", ":")).encode("ascii")
