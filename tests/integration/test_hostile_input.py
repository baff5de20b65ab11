"""Hostile input gets a 4xx and changes nothing: each case here answered 500 (or was accepted)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import uuid
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.crypto import _state_keys, sign_state
from billing.db.pool import Pool
from tests.conftest import SECRET_KEY
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


def _admin(scene: Scene) -> dict[str, str]:
    return {"Authorization": f"Bearer {scene.keys['admin']}"}


def _bodies(scene: Scene) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """A valid body per writing operation, keyed by a name, to put hostile values into."""
    fleet, me = str(scene.fleet.id), str(scene.me.id)
    return {
        "fleet": ("POST", "/v1/fleets", {"name": "N", "currency": "EUR", "timezone": "UTC"}),
        "employee": (
            "POST",
            "/v1/employees",
            {"fleet_id": fleet, "external_ref": "X-1", "name": "N", "email": "a@b.c"},
        ),
        "employee_patch": ("PATCH", f"/v1/employees/{me}", {"name": "N"}),
        "vehicle": (
            "POST",
            "/v1/vehicles",
            {"employee_id": me, "smartcar_vehicle_id": "car-1", "make": "TESLA"},
        ),
        "tariff": (
            "POST",
            "/v1/tariffs",
            {
                "fleet_id": fleet,
                "price_per_kwh": "0.3",
                "currency": "EUR",
                "valid_from": "1990-01-01",
                "valid_to": "1990-02-01",
                "source": "s",
            },
        ),
    }


TEXT_FIELDS = [
    ("fleet", "name"),
    ("employee", "external_ref"),
    ("employee", "name"),
    ("employee", "email"),
    ("employee_patch", "name"),
    ("vehicle", "smartcar_vehicle_id"),
    ("tariff", "source"),
]


async def _audit_count(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM audit_events")
    return count


async def test_a_nul_character_in_any_text_field_is_422(
    client: Client, scene: Scene, pool: Pool
) -> None:
    before = await _audit_count(pool)
    for body, name in TEXT_FIELDS:
        method, path, data = _bodies(scene)[body]
        resp = await client.request(
            method, path, json={**data, name: "a\u0000b"}, headers=_admin(scene)
        )
        assert resp.status == 422, (body, name, await resp.text())
        problem = await resp.json()
        assert problem["errors"][0]["field"] == f"body.{name}"
    assert await _audit_count(pool) == before


async def test_a_nul_character_in_a_reason_and_a_query_is_4xx(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.me, date(2024, 1, 1))
    resp = await client.post(
        f"/v1/line-items/{item.id}/reject",
        json={"version": 1, "reason": "no\u0000"},
        headers=_admin(scene),
    )
    assert resp.status == 422, await resp.text()
    resp = await client.get("/v1/changes", params={"after": "a\u0000"}, headers=_admin(scene))
    assert resp.status == 422, await resp.text()


async def test_json_nested_a_thousand_levels_is_400(client: Client, scene: Scene) -> None:
    depth = 1000
    for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        resp = await client.post(
            "/v1/fleets",
            data=raw,
            headers={**_admin(scene), "Content-Type": "application/json"},
        )
        assert resp.status == 400, await resp.text()
        assert "nested" in (await resp.json())["detail"]
    # brackets inside strings are text, not nesting
    body = {"name": "[" * 100, "currency": "EUR", "timezone": "UTC"}
    resp = await client.post("/v1/fleets", json=body, headers=_admin(scene))
    assert resp.status == 201, await resp.text()


def _cursor(created_at: str) -> str:
    raw = json.dumps([created_at, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


LISTS = ["/v1/fleets", "/v1/employees", "/v1/vehicles", "/v1/tariffs", "/v1/line-items"]


async def test_a_cursor_with_an_out_of_range_datetime_is_422(client: Client, scene: Scene) -> None:
    for path in [*LISTS, "/v1/charge-records"]:
        for created_at in (
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2024-01-01T00:00:00",  # naive: never handed out
        ):
            resp = await client.get(
                path, params={"cursor": _cursor(created_at)}, headers=_admin(scene)
            )
            assert resp.status == 422, (path, created_at, await resp.text())


async def test_an_audit_cursor_outside_bigint_is_422(client: Client, scene: Scene) -> None:
    for cursor in (str(2**63), str(2**64 + 5), "-1", "1" * 150, "\u0663", "1_0"):
        resp = await client.get(
            "/v1/audit-events", params={"cursor": cursor}, headers=_admin(scene)
        )
        assert resp.status == 422, (cursor, await resp.text())
    resp = await client.get(
        "/v1/audit-events", params={"cursor": str(2**63 - 1)}, headers=_admin(scene)
    )
    assert resp.status == 200


async def test_non_utf8_bytes_in_authorization_are_401_and_not_logged(
    client: Client, scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prefix = scene.keys["admin"].rpartition("_")[0]
    for secret in (b"\xff\xfe\xfa", b"caf\xc3\xa9", b"\x80"):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            b"GET /v1/fleets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + prefix.encode() + b"_" + secret + b"\r\n\r\n"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        status = int(answer.split(b" ", 2)[1])
        assert status == 401, answer
    assert prefix not in caplog.text


def _signed(payload: Any) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    mac = hmac.new(_state_keys(SECRET_KEY)[0], body, hashlib.sha256).digest()
    return f"{body.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "an", "object"],
        {"nonce": "n", "exp": 9999999999},
        {"employee_id": "not-a-uuid", "nonce": "n", "exp": 9999999999},
        {"employee_id": str(uuid.uuid4()), "nonce": "n", "exp": "later"},
        {"employee_id": str(uuid.uuid4()), "nonce": ["n"], "exp": 9999999999},
        {"employee_id": str(uuid.uuid4()), "nonce": "n", "exp": 1e400},
    ],
    ids=["list", "no-employee", "bad-uuid", "exp-text", "nonce-list", "exp-inf"],
)
async def test_a_signed_but_malformed_state_is_a_400_page(client: Client, payload: Any) -> None:
    state = _signed(payload) if not isinstance(payload, dict) else sign_state(SECRET_KEY, payload)
    resp = await client.get("/v1/connect/callback", params={"state": state, "code": "c"})
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "text/html"


async def test_signed_garbage_is_a_400_page(client: Client) -> None:
    body = base64.urlsafe_b64encode(b"\xff\x00not json").rstrip(b"=")
    mac = hmac.new(_state_keys(SECRET_KEY)[0], body, hashlib.sha256).digest()
    state = f"{body.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    resp = await client.get("/v1/connect/callback", params={"state": state, "code": "c"})
    assert resp.status == 400


AMOUNTS = ["\u0663", "\uff13", "-0", "-0.00", "3_0", "1e2", " 3", "+1", "0x1", 0.3, 3]


async def test_money_takes_ascii_digits_only(client: Client, scene: Scene, pool: Pool) -> None:
    before = await _audit_count(pool)
    for body, name in (("tariff", "price_per_kwh"), ("employee", "monthly_cap")):
        method, path, data = _bodies(scene)[body]
        for amount in AMOUNTS:
            resp = await client.request(
                method, path, json={**data, name: amount}, headers=_admin(scene)
            )
            assert resp.status == 422, (name, amount, await resp.text())
            assert (await resp.json())["errors"][0]["field"] == f"body.{name}"
    assert await _audit_count(pool) == before
    method, path, data = _bodies(scene)["tariff"]
    resp = await client.request(method, path, json=data, headers=_admin(scene))
    assert resp.status == 201, await resp.text()  # "0.3" still is money


async def test_a_correction_price_takes_ascii_digits_only(client: Client, scene: Scene) -> None:
    resp = await client.post(
        f"/v1/tariffs/{scene.tariff.id}/corrections",
        json={"price_per_kwh": "\u0663"},
        headers=_admin(scene),
    )
    assert resp.status == 422, await resp.text()


async def test_localtime_is_not_a_time_zone(client: Client, scene: Scene) -> None:
    _, path, data = _bodies(scene)["fleet"]
    for zone in ("localtime", "Factory", "posixrules"):
        resp = await client.post(path, json={**data, "timezone": zone}, headers=_admin(scene))
        assert resp.status == 422, (zone, await resp.text())
        resp = await client.patch(
            f"/v1/employees/{scene.me.id}", json={"timezone": zone}, headers=_admin(scene)
        )
        assert resp.status == 422, (zone, await resp.text())


async def test_a_tariff_is_in_its_fleets_currency(client: Client, scene: Scene, pool: Pool) -> None:
    _, path, data = _bodies(scene)["tariff"]
    assert scene.fleet.currency == "EUR"
    resp = await client.post(path, json={**data, "currency": "USD"}, headers=_admin(scene))
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["errors"][0]["field"] == "body.currency"
    assert await pool.fetchval("SELECT count(*) FROM tariffs WHERE currency = 'USD'") == 0


async def test_a_smartcar_vehicle_id_is_one_plain_path_segment(
    client: Client, scene: Scene
) -> None:
    _, path, data = _bodies(scene)["vehicle"]
    for vehicle_id in ("..", ".", "../vehicles", "a/b", "a?b", "\u00e4", "%2e%2e", "a#"):
        resp = await client.post(
            path, json={**data, "smartcar_vehicle_id": vehicle_id}, headers=_admin(scene)
        )
        assert resp.status == 422, (vehicle_id, await resp.text())
