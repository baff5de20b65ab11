"""Limits and protected fields on every endpoint: keys, page sizes, body sizes, unknown fields."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.api.keys import SETTINGS
from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    resp = await client.get("/v1/openapi.json")
    body: dict[str, Any] = await resp.json()
    return body


def _concrete(path: str) -> str:
    return path.replace("{id}", str(uuid.uuid4())).replace("{prefix}", "fb_hr_AAAAAAAA")


async def test_every_operation_needs_a_key(client: Client, document: dict[str, Any]) -> None:
    for path, entry in document["paths"].items():
        for method, op in entry.items():
            for headers in ({}, {"Authorization": "Bearer fb_admin_AAAAAAAA_nope"}):
                resp = await client.request(
                    method, _concrete(path), headers=headers, allow_redirects=False
                )
                if op.get("security") == []:
                    assert resp.status != 401, path
                    continue
                assert resp.status == 401, f"{method} {path}"
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                assert resp.content_type == "application/problem+json"


async def test_every_list_caps_its_page_size(
    client: Client, scene: Scene, document: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {scene.keys['admin']}"}
    caps = {
        path: p["schema"]["maximum"]
        for path, entry in document["paths"].items()
        for p in entry.get("get", {}).get("parameters", [])
        if p["name"] == "limit"
    }
    assert len(caps) >= 8
    # pages of 500 at most; the change feed's pollers may read 1,000 changes at once
    assert set(caps.values()) == {500, 1000}
    assert caps["/v1/changes"] == 1000
    for path, cap in caps.items():
        ok = await client.get(_concrete(path), params={"limit": str(cap)}, headers=headers)
        assert ok.status == 200, path
        too_many = await client.get(
            _concrete(path), params={"limit": str(cap + 1)}, headers=headers
        )
        assert too_many.status == 422, path
        assert (await too_many.json())["errors"][0]["field"] == "query.limit"


async def test_every_body_is_capped(client: Client, scene: Scene, document: dict[str, Any]) -> None:
    headers = {
        "Authorization": f"Bearer {scene.keys['admin']}",
        "Content-Type": "application/json",
    }
    huge = b'{"name": "' + b"x" * (client.app[SETTINGS].max_body_bytes + 1) + b'"}'
    with_body = [
        (method, path)
        for path, entry in document["paths"].items()
        for method, op in entry.items()
        if method in ("post", "patch", "put")
    ]
    for method, path in with_body:
        resp = await client.request(method, _concrete(path), data=io.BytesIO(huge), headers=headers)
        assert resp.status == 413, f"{method} {path}"
        assert resp.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/employees/{me}", {"fleet_id": "{other_fleet}"}),
        ("PATCH", "/v1/employees/{me}", {"id": "{other_fleet}"}),
        ("PATCH", "/v1/employees/{me}", {"created_at": "2020-01-01T00:00:00Z"}),
        (
            "POST",
            "/v1/employees",
            {"fleet_id": "{fleet}", "external_ref": "x", "name": "n", "active": False},
        ),
        (
            "POST",
            "/v1/tariffs",
            {
                "fleet_id": "{fleet}",
                "price_per_kwh": "0.3",
                "currency": "EUR",
                "valid_from": "2001-01-01",
                "id": "{other_fleet}",
            },
        ),
        ("POST", "/v1/line-items/{item}/approve", {"version": 1, "status": "rejected"}),
        ("POST", "/v1/line-items/{item}/approve", {"version": 1, "amount": "0"}),
        ("POST", "/v1/line-items/{item}/approve", {"version": 1, "decided_by": "someone"}),
        ("POST", "/v1/line-items/{item}/reject", {"version": 1, "reason": "r", "version_": 9}),
        (
            "POST",
            "/v1/line-items/decisions",
            {
                "decisions": [
                    {"id": "{item}", "version": 1, "decision": "approve", "status": "approved"}
                ]
            },
        ),
    ],
)
async def test_protected_fields_are_refused(
    client: Client, scene: Scene, pool: Pool, method: str, path: str, body: dict[str, Any]
) -> None:
    item = await scene.pending(scene.colleague, date(2025, 3, 1))
    names = {
        "{me}": str(scene.me.id),
        "{fleet}": str(scene.fleet.id),
        "{other_fleet}": str(scene.other_fleet.id),
        "{item}": str(item.id),
    }

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    before = await pool.fetchval("SELECT count(*) FROM audit_events")
    resp = await client.request(
        method,
        fill(path.replace("{me}", names["{me}"]).replace("{item}", names["{item}"])),
        json=fill(body),
        headers={"Authorization": f"Bearer {scene.keys['manager']}"},
    )
    assert resp.status == 422, await resp.text()
    assert "unknown field" in {e["message"] for e in (await resp.json())["errors"]}
    assert await pool.fetchval("SELECT count(*) FROM audit_events") == before
