"""The same object reads the same everywhere: feed data is the public representation."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from billing.db import audit
from billing.db.pool import Pool, transaction
from billing.domain.changes import public_data
from billing.domain.models import Entity
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def _changes(client: Client, query: str, headers: dict[str, str], want: int) -> list[Any]:
    """The feed's changes once `want` of them are out: the feed waits for every transaction
    open on the server (any database's) to end, so a busy server delays them."""
    async with asyncio.timeout(60):
        while True:
            changes: list[Any] = (await (await client.get(query, headers=headers)).json())[
                "changes"
            ]
            if len(changes) >= want:
                return changes
            await asyncio.sleep(0.05)


def _auth(scene: Scene, role: str = "hr") -> dict[str, str]:
    return {"Authorization": f"Bearer {scene.keys[role]}"}


async def test_feed_data_is_the_public_line_item(client: Client, scene: Scene, pool: Pool) -> None:
    item = await scene.pending(scene.me, date(2025, 3, 1))
    async with transaction(pool) as conn:
        # as the ledger records a priced line: the whole row, evidence and 4-digit amount
        row = await conn.fetchrow("SELECT * FROM line_items WHERE id = $1", item.id)
        assert row is not None
        assert len(str(row["amount"]).partition(".")[2]) == 4
        await audit.record(
            conn,
            actor="test",
            fleet_id=row["fleet_id"],
            entity="line_item",
            entity_id=item.id,
            action="create",
            after=dict(row),
        )
    changes = await _changes(client, "/v1/changes", _auth(scene), 1)
    (change,) = [c for c in changes if c["id"] == str(item.id)]
    shown = await (await client.get(f"/v1/line-items/{item.id}", headers=_auth(scene))).json()
    shown.pop("evidence")
    assert change["data"] == shown
    assert "evidence" not in change["data"]
    assert change["data"]["amount"] == shown["amount"]
    assert len(change["data"]["amount"].partition(".")[2]) == 2  # EUR: two minor digits


async def test_feed_entity_filter(client: Client, scene: Scene, pool: Pool) -> None:
    item = await scene.pending(scene.me, date(2025, 3, 2))
    async with transaction(pool) as conn:
        pairs: list[tuple[Entity, UUID]] = [("line_item", item.id), ("employee", scene.me.id)]
        for entity, entity_id in pairs:
            await audit.record(
                conn,
                actor="test",
                fleet_id=scene.fleet.id,
                entity=entity,
                entity_id=entity_id,
                action="touch",
                after={"id": str(entity_id)},
            )
    only = await _changes(client, "/v1/changes?entity=employee", _auth(scene), 1)
    assert [c["entity"] for c in only] == ["employee"]
    bad = await client.get("/v1/changes?entity=api_key", headers=_auth(scene))
    assert bad.status == 422


def test_public_data_drops_internal_fields_of_every_entity() -> None:
    record = {"id": "r", "home_kwh": "1.0000", "raw": {"upstream": 1}, "revision": 2}
    assert public_data("charge_record", record) == {"id": "r", "home_kwh": "1.0000", "revision": 2}
    vehicle = {"smartcar_vehicle_id": "v", "connection_id": "c", "employee_id": "e"}
    assert public_data("vehicle", vehicle) == {"smartcar_vehicle_id": "v", "employee_id": "e"}
    jpy = {"amount": "120.0000", "currency": "JPY", "evidence": {}}
    assert public_data("line_item", jpy) == {"amount": "120", "currency": "JPY"}
    assert public_data("line_item", None) is None


async def test_line_items_by_charge_date_page_through_once(client: Client, scene: Scene) -> None:
    days = [date(2025, 4, d) for d in (9, 3, 7, 1, 5, 2, 8)]
    made = {(await scene.pending(scene.me, day)).id: day for day in days}
    inside = {i for i, day in made.items() if date(2025, 4, 2) <= day <= date(2025, 4, 8)}
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"from": "2025-04-02", "to": "2025-04-08", "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        resp = await client.get("/v1/line-items", params=params, headers=_auth(scene))
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        seen += [item["id"] for item in body["items"]]
        assert all("2025-04-02" <= item["charge_date"] <= "2025-04-08" for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(i) for i in inside)
    assert len(seen) == len(set(seen)) == 5
    backwards = await client.get(
        "/v1/line-items", params={"from": "2025-04-08", "to": "2025-04-02"}, headers=_auth(scene)
    )
    assert backwards.status == 422


async def test_monthly_cap_carries_the_fleet_currency_minor_units(
    client: Client, factory: Factory
) -> None:
    fleet = await factory.fleet()  # EUR
    admin = factory.auth(await factory.key("admin"))
    body = {"fleet_id": str(fleet.id), "external_ref": "CAP-1", "name": "Capped"}
    made = await client.post("/v1/employees", json={**body, "monthly_cap": "80"}, headers=admin)
    assert made.status == 201, await made.text()
    employee = await made.json()
    assert employee["monthly_cap"] == "80.00"
    shown = await (await client.get(f"/v1/employees/{employee['id']}", headers=admin)).json()
    assert shown["monthly_cap"] == "80.00"
    listed = await (await client.get("/v1/employees", headers=admin)).json()
    assert {e["monthly_cap"] for e in listed["items"]} == {"80.00"}
    # more digits than the currency has is refused, not rounded away
    wrong = {**body, "external_ref": "CAP-2", "monthly_cap": "80.125"}
    refused = await client.post("/v1/employees", json=wrong, headers=admin)
    assert refused.status == 422, await refused.text()
    assert "monthly_cap" in (await refused.json())["detail"]
