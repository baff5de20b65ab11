"""The served OpenAPI document: valid 3.1, and complete for every route the app answers."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from billing.api.app import ROUTE_GROUPS
from billing.web.app import setup_pages

Client = TestClient[Any, Any]
MUTATING = {"post", "patch", "put", "delete"}


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    resp = await client.get("/v1/openapi.json")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, entry in document["paths"].items()
        for method, op in entry.items()
    ]


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_validator_would_catch_a_broken_document(document: dict[str, Any]) -> None:
    broken = {**document, "paths": {"/x": {"get": {"responses": {"200": {"content": 1}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented(client: Client, document: dict[str, Any]) -> None:
    pages = setup_pages(web.Application())  # the web pages are for people, not in the API
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and route.resource.canonical not in pages
    }
    assert served == {(method, path) for method, path, _ in operations(document)}
    declared = {op.operation_id for group in ROUTE_GROUPS for op in group.operations}
    assert declared == {op["operationId"] for _, _, op in operations(document)}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/line-items"),
        ("get", "/v1/line-items/{id}"),
        ("post", "/v1/line-items/{id}/approve"),
        ("post", "/v1/line-items/{id}/reject"),
        ("post", "/v1/line-items/{id}/reopen"),
        ("post", "/v1/line-items/decisions"),
        ("get", "/v1/charge-records"),
        ("get", "/v1/changes"),
        ("get", "/v1/fleets/{id}/summary"),
    ],
)
def test_new_endpoints_are_there(document: dict[str, Any], method: str, path: str) -> None:
    assert method in document["paths"][path]


def test_parameters_bodies_and_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for method, path, op in operations(document):
        where = f"{method.upper()} {path}"
        params = {(p["in"], p["name"]): p for p in op["parameters"]}
        for name in path.split("{")[1:]:
            assert ("path", name.split("}")[0]) in params, where
        public = op.get("security") == []
        if not public:
            assert {"401", "404"} <= set(op["responses"]), where
        if method in MUTATING and not public:
            key = params[("header", "Idempotency-Key")]
            assert key["schema"]["maxLength"] == 255, where
            assert {"409", "422"} <= set(op["responses"]), where
        if "requestBody" in op:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[-1] in schemas, where
            assert {"400", "413", "422"} <= set(op["responses"]), where
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                # problem+json, or a page for a person (the Connect callback's browser)
                assert {"application/problem+json", "text/html"} & set(response["content"]), where


def test_query_parameters_follow_the_models(document: dict[str, Any]) -> None:
    items = document["paths"]["/v1/line-items"]["get"]["parameters"]
    names = {p["name"] for p in items if p["in"] == "query"}
    assert names == {
        "fleet_id",
        "employee_id",
        "vehicle_id",
        "status",
        "kind",
        "period",
        "from",
        "to",
        "limit",
        "cursor",
    }
    limit = next(p for p in items if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
    records = document["paths"]["/v1/charge-records"]["get"]["parameters"]
    assert {"from", "to", "unpriced"} <= {p["name"] for p in records}
    feed = document["paths"]["/v1/changes"]["get"]["parameters"]
    assert {"after", "limit"} <= {p["name"] for p in feed}


def test_money_is_documented_as_strings(document: dict[str, Any]) -> None:
    line_item = document["components"]["schemas"]["LineItem"]["properties"]
    for name in ("amount", "kwh", "unit_price"):
        assert line_item[name]["type"] == "string", name
    body = document["components"]["schemas"]["RejectBody"]
    assert body["additionalProperties"] is False
    assert set(body["required"]) == {"version", "reason"}


async def test_docs_page_renders_the_document(client: Client, document: dict[str, Any]) -> None:
    resp = await client.get("/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "/v1/openapi.json" in page
    tags = {op["tags"][0] for _, _, op in operations(document)}
    assert {"line items", "changes", "charge records", "fleets"} <= tags
