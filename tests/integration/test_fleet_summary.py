"""Charge records as received, and the fleet summary built from them and the line items."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


def auth(scene: Scene, role: str = "manager") -> dict[str, str]:
    return {"Authorization": f"Bearer {scene.keys[role]}"}


async def test_charge_records_list_and_unpriced(client: Client, scene: Scene) -> None:
    vehicle = scene.vehicle_of(scene.me)
    priced = await scene.pending(scene.me, date(2025, 3, 1))
    unpriced = await scene.items.charge_record(vehicle, date(2025, 3, 2), home_kwh="4")
    await scene.items.charge_record(vehicle, date(2025, 3, 3), home_kwh="0", other_kwh="30")
    await scene.pending(scene.stranger, date(2025, 3, 2))

    async def days(role: str = "manager", **params: str) -> list[str]:
        resp = await client.get("/v1/charge-records", params=params, headers=auth(scene, role))
        assert resp.status == 200, await resp.text()
        return [r["charge_date"] for r in (await resp.json())["items"]]

    assert await days() == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert await days(unpriced="true") == ["2025-03-02"]
    assert await days(**{"from": "2025-03-02", "to": "2025-03-02"}) == ["2025-03-02"]
    assert await days(vehicle_id=str(vehicle.id), to="2025-03-01") == ["2025-03-01"]
    assert await days("employee", employee_id=str(scene.me.id)) == [
        "2025-03-01",
        "2025-03-02",
        "2025-03-03",
    ]
    resp = await client.get(
        "/v1/charge-records",
        params={"employee_id": str(scene.colleague.id)},
        headers=auth(scene, "employee"),
    )
    assert resp.status == 404
    resp = await client.get("/v1/charge-records", params={"from": "x"}, headers=auth(scene))
    assert resp.status == 422
    assert priced.charge_record_id != unpriced.id


async def test_fleet_summary(client: Client, scene: Scene) -> None:
    await scene.pending(scene.me, date(2025, 3, 1), home_kwh="10")  # 3.00
    await scene.pending(scene.me, date(2025, 3, 2), home_kwh="1")  # 0.30
    await scene.pending(scene.me, date(2025, 4, 1), home_kwh="2")  # 0.60
    await scene.items.charge_record(scene.vehicle_of(scene.colleague), date(2025, 3, 5))
    late = await scene.items.vehicle(
        scene.colleague, synced_through=date(2020, 1, 1), granted_on=date(2019, 6, 1)
    )
    await scene.items.set_budget("17.5")
    resp = await client.get(f"/v1/fleets/{scene.fleet.id}/summary", headers=auth(scene, "hr"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    pending = {(p["employee_id"], p["period"]): (p["count"], p["amount"]) for p in body["pending"]}
    assert pending == {
        (str(scene.me.id), "2025-03"): (2, "3.30"),
        (str(scene.me.id), "2025-04"): (1, "0.60"),
    }
    assert [(u["employee_id"], u["days"], u["kwh"]) for u in body["unpriced"]] == [
        (str(scene.colleague.id), 1, "10.5000")
    ]
    assert body["vehicles_by_sync_state"]["ok"] == 3  # two in the scene, one late
    assert [(v["vehicle_id"], v["window_deadline"]) for v in body["window_at_risk"]] == [
        (str(late.id), "2020-01-31")
    ]
    assert body["budget_left"] == "17.5000"

    for role, status in [("employee", 403), ("manager", 200), ("admin", 200)]:
        resp = await client.get(f"/v1/fleets/{scene.fleet.id}/summary", headers=auth(scene, role))
        assert resp.status == status
    abroad = await client.get(
        f"/v1/fleets/{scene.other_fleet.id}/summary", headers=auth(scene, "hr")
    )
    assert abroad.status == 404
