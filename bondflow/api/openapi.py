"""The published OpenAPI document, made exact (API.md): request bodies from `request_models`, every response
status with the envelope, the bearer scheme, the required `Idempotency-Key`, and links from a placed order
to the operations that read and cancel it. Built once per app, from FastAPI's own document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from bondflow.api.request_models import FINANCIAL_YEAR, ISIN, REQUEST_BODIES, body_schema

IDEMPOTENT = {("post", "/v1/orders"), ("post", "/v1/payments/deposits"), ("post", "/v1/payments/withdrawals")}
ANONYMOUS = {
    "/v1/users",
    "/v1/auth/token",
    "/v1/kyc/webhook",
    "/v1/payments/webhook",
    "/v1/settlement/payouts/webhook",
}
SIGNED_HEADERS = ("X-BF-Timestamp", "X-BF-Nonce", "X-BF-Signature")
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"}
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
_YEAR = "([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # 0001-9999: Python has no year 0
_DAY = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
ISO_DATE = f"^{_YEAR}-{_DAY}$"
# `as_of`: a log position, or an ISO-8601 time with its offset
AS_OF = f"^([0-9]{{1,18}}|{_YEAR}-{_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{{1,6}})?(Z|[+-][01][0-9]:[0-5][0-9]))$"
# Answers that are not JSON envelopes: what each path sends with its 200 besides (or instead of) JSON
DOCUMENTS = {
    "/v1/portfolio/statements": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    "/v1/trades/{trade_id}/contract-note": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
    },
    "/v1/reports/{report}": {
        "text/csv; charset=utf-8": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
    "/v1/reports/iso20022/{message}": {"application/xml": {"schema": {"type": "string"}}},
}
ERRORS = {
    "400": "malformed or invalid request (BF-REQ-001, BF-ORD-003, BF-IDEM-001, BF-QRY-002)",
    "401": "missing, invalid or expired token; wrong credentials; rejected webhook (BF-AUTH-001, BF-WH-001)",
    "403": "not allowed (BF-AUTH-002, BF-KYC-002, BF-ORD-004, BF-ORD-007)",
    "404": "not found, also for another user's resource (BF-NF-001)",
    "409": "conflict: state, duplicate, idempotent replay or write contention (BF-ORD-005, BF-ORD-008, "
    "BF-IDEM-003, BF-USR-001, BF-CONFLICT-001 …)",
    "413": "body over the limit (BF-REQ-001)",
    "422": "idempotency key reused with another body, or price outside the band (BF-IDEM-002, BF-ORD-006)",
    "429": "rate limit (BF-RATE-001), with Retry-After, RateLimit-Policy and RateLimit",
    "503": "read model not yet at min_position, or a dependency down (BF-QRY-001, BF-DEP-001), with Retry-After",
}
ENVELOPE = {
    "type": "object",
    "required": ["data", "error", "meta"],
    "properties": {
        "data": {},
        "error": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"type": "null"}]},
        "meta": {
            "type": "object",
            "required": ["request_id"],
            "properties": {"request_id": {"type": "string"}},
            "additionalProperties": True,
        },
    },
}
ERROR = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string", "pattern": r"^BF-[A-Z]+-[0-9]{3}$"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = exact(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def exact(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Envelope"] = ENVELOPE
    schemas["Error"] = ERROR
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _operation(path, method, operation, schemas)
    return document


def _operation(path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    model = REQUEST_BODIES.get((method, path))
    if model is not None:
        schema = body_schema(model)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    for parameter in operation.get("parameters", []):
        _parameter(parameter)
        if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
            parameter["required"] = (method, path) in IDEMPOTENT
    if path.startswith("/v1/") and path not in ANONYMOUS:
        operation["security"] = [{"bearer": []}]
    if path.endswith("/webhook"):
        parameters = operation.setdefault("parameters", [])
        parameters.extend(
            {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
            for h in SIGNED_HEADERS
        )
    _responses(path, operation)


def _parameter(parameter: dict[str, Any]) -> None:
    """What the server accepts in a parameter: an optional one is absent, never the string "null" (so the
    null branch FastAPI adds goes); an ISIN has its pattern; an Idempotency-Key its printable 1-255."""
    schema = parameter.get("schema", {})
    branches = schema.get("anyOf")
    if branches and not parameter.get("required"):
        kept = [branch for branch in branches if branch.get("type") != "null"]
        if len(kept) == 1:
            rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
            parameter["schema"] = schema = {**kept[0], **rest}
    if parameter.get("name") == "isin":
        parameter["schema"] = {**schema, "type": "string", "pattern": ISIN, "minLength": 12, "maxLength": 12}
    if parameter.get("name") == "Idempotency-Key":
        parameter["schema"] = {**IDEMPOTENCY_KEY, "title": "Idempotency-Key"}
    if parameter.get("name") == "financial_year":
        parameter["schema"] = {**schema, "type": "string", "pattern": FINANCIAL_YEAR}
    if parameter.get("name") == "as_of":
        parameter["schema"] = {**schema, "pattern": AS_OF}
    if schema.get("format") == "date":
        parameter["schema"] = {**schema, "pattern": ISO_DATE}  # the server reads no other spelling


def _responses(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if path == "/metrics" and "200" in responses:
        responses["200"]["content"] = {PROMETHEUS: {"schema": {"type": "string"}}}
    if path in DOCUMENTS and "200" in responses:
        responses["200"].setdefault("content", {}).update(DOCUMENTS[path])
    if not path.startswith("/v1/"):
        return
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    for answer in responses.values():
        content = answer.setdefault("content", {})
        if "application/json" in content or not content:
            content["application/json"] = envelope["application/json"]
    for status, description in ERRORS.items():
        responses.setdefault(status, {"description": description, "content": envelope})
    if path == "/v1/orders" and "202" in responses:
        responses["409"]["description"] += "; an idempotent replay answers 409 with the original data"
        responses["202"]["links"] = {
            "GetOrder": {
                "operationId": "get_order_v1_orders__order_id__get",
                "parameters": {"order_id": "$response.body#/data/order_id"},
            },
            "CancelOrder": {
                "operationId": "cancel_order_v1_orders__order_id__cancel_post",
                "parameters": {"order_id": "$response.body#/data/order_id"},
            },
        }
