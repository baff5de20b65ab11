"""The OpenAPI 3.1 document, generated from the same declarations and models that route and
validate requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from billing.api.problems import Problem
from billing.api.registry import Operation

_PARAM = re.compile(r"\{(\w+)\}")
# path parameters that are not ids
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "prefix": {"type": "string", "pattern": "^fb_[a-z]+_[A-Za-z0-9]{8}$"},
}
_MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the same key with the same request replays the first response "
        "(for at least 24 h); with a different request 422; while the first still runs 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_ERROR_TITLES = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "Not found, or outside the key's reach",
    409: (
        "Conflict with the current state; with Retry-After, the request lost a race with "
        "another one and the same request may simply be sent again"
    ),
    413: "Body too large",
    422: "Validation failed",
    429: "Too many failed authentications from this address; see Retry-After",
    500: "A server or database error; it was logged",
    503: "The database is busy or out of reach; send the same request again after Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_RETRY_STATUSES = frozenset({409, 429, 503})


def _parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_SCHEMAS.get(name, {"type": "string", "format": "uuid"}),
        }
        for name in _PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = schemas[op.query.__name__]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if op.method in _MUTATING and not op.public:
        params.append(_IDEMPOTENCY_KEY)
    return params


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(op: Operation) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": _ref(Problem)}}
    responses: dict[str, Any] = {}
    if op.raw_response is not None:
        # a raw JSON answer (this document) is an object; other media types are text
        raw = {"type": "object"} if op.raw_response == "application/json" else {"type": "string"}
        responses[str(op.status)] = {
            "description": op.summary,
            "content": {op.raw_response: {"schema": raw}},
        }
    elif op.response is not None:
        responses[str(op.status)] = {
            "description": op.summary,
            "content": {"application/json": {"schema": _ref(op.response)}},
        }
    else:
        responses[str(op.status)] = {"description": op.summary}
    codes = set(op.errors)
    if op.body is not None or op.query is not None:
        codes |= {400, 422}
    if op.body is not None:
        codes.add(413)
    if op.method in _MUTATING and not op.public:
        codes |= {400, 409, 413, 422}  # a body where none is taken, or the Idempotency-Key
    if not op.public:
        codes |= {401, 404, 429, 500, 503}  # every key is looked up in the database
    for code in sorted(codes):
        entry = {"description": _ERROR_TITLES.get(code, "Error"), "content": problem}
        if code in _RETRY_STATUSES and not op.public:
            entry["headers"] = _RETRY_AFTER
        responses[str(code)] = entry
    for code in op.html_errors:
        page = {"text/html": {"schema": {"type": "string"}}}
        entry = responses.setdefault(str(code), {"description": _ERROR_TITLES.get(code, "Error")})
        entry["content"] = {**entry.get("content", {}), **page}
    return responses


def build_document(operations: list[Operation], *, version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {Problem}
    for op in operations:
        models.update(m for m in (op.body, op.query, op.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "serialization" if _is_output(m, operations) else "validation") for m in ordered
    ]
    _, top = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op, schemas),
            "responses": _responses(op),
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        if op.public:
            entry["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fleet-billing",
            "version": version,
            "description": "Reimbursement of home charging for electric company cars.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
    }


def _is_output(model: type[BaseModel], operations: list[Operation]) -> bool:
    return any(op.response is model for op in operations) or model is Problem
