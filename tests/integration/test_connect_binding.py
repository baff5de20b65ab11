"""Connect cannot hand a car to someone else: a link works only in the browser that started
it, and nothing registered for another employee is moved by it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing.api.app import create_app
from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar.sim import Simulator
from tests.factories import Factory
from tests.integration.test_connect import _consent, _start

Client = TestClient[Any, Any]


@pytest.fixture
async def api(sync_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sync_settings))) as client:
        yield client


async def _vehicles(pool: Pool) -> dict[str, Any]:
    rows = await pool.fetch("SELECT smartcar_vehicle_id, employee_id, fleet_id FROM vehicles")
    return {row["smartcar_vehicle_id"]: (row["employee_id"], row["fleet_id"]) for row in rows}


async def test_a_forwarded_connect_link_does_not_work_in_another_browser(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    a1 = await factory.employee(fleet)
    key = await factory.key("employee", fleet, a1)
    # A1 starts in his browser, forwards the link; A2 consents with his own Smartcar account
    callback = await _consent(await _start(api, key, a1.id), sim_vehicles="2")
    async with (
        aiohttp.ClientSession() as other_browser,
        other_browser.get(api.make_url(callback.path_qs)) as response,
    ):
        assert response.status == 400
        assert "another browser" in await response.text()
    assert await _vehicles(pool) == {}
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections") == 0
    # the browser that started it can still finish (the refused attempt used nothing up)
    response = await api.get(callback.path_qs)
    assert response.status == 200, await response.text()
    assert len(await _vehicles(pool)) == 2


async def test_a_state_without_its_browser_binding_is_refused(
    api: Client, factory: Factory
) -> None:
    from billing.crypto import sign_state
    from tests.conftest import SECRET_KEY

    fleet = await factory.fleet()
    a1 = await factory.employee(fleet)
    state = sign_state(
        SECRET_KEY, {"employee_id": str(a1.id), "nonce": "n" * 32, "exp": 9999999999}
    )
    response = await api.get("/v1/connect/callback", params={"state": state, "code": "c"})
    assert response.status == 400
    assert "another browser" in await response.text()


async def test_connect_never_moves_an_account_connected_for_a_colleague(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    a1, a2 = await factory.employee(fleet), await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    own = await _consent(await _start(api, manager, a2.id), sim_vehicles="2")
    assert (await api.get(own.path_qs)).status == 200
    before = await _vehicles(pool)
    assert {owner for owner, _ in before.values()} == {a2.id}
    user_id = await pool.fetchval("SELECT smartcar_user_id FROM smartcar_connections")
    # A1 gets A2's Smartcar login and connects it for himself, in his own browser
    a1_key = await factory.key("employee", fleet, a1)
    taken = await _consent(await _start(api, a1_key, a1.id), sim_user=user_id)
    response = await api.get(taken.path_qs)
    text = await response.text()
    assert response.status == 409, text
    assert "already connected for another employee" in text
    assert await _vehicles(pool) == before
    assert await pool.fetchval("SELECT employee_id FROM smartcar_connections") == a2.id
    refused = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'connect_refused' AND entity_id = $1",
        a1.id,
    )
    assert refused == 1


async def test_connect_never_moves_a_vehicle_registered_for_someone_else(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet, elsewhere = await factory.fleet(), await factory.fleet()
    a1, colleague = await factory.employee(fleet), await factory.employee(fleet)
    stranger = await factory.employee(elsewhere)
    user = sim.create_user(3)
    mine, colleagues, strangers = user.vehicle_ids
    for employee, smartcar_id in ((colleague, colleagues), (stranger, strangers)):
        await pool.execute(
            "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)"
            " VALUES ($1, $2, $3, 'TESLA')",
            employee.fleet_id,
            employee.id,
            smartcar_id,
        )
    key = await factory.key("employee", fleet, a1)
    callback = await _consent(await _start(api, key, a1.id), sim_user=user.user_id)
    response = await api.get(callback.path_qs)
    text = await response.text()
    assert response.status == 200, text
    assert "1 car(s) are now connected" in text
    assert text.count("registered for someone else, not linked") == 2
    vehicles = await _vehicles(pool)
    assert vehicles[mine] == (a1.id, fleet.id)
    assert vehicles[colleagues] == (colleague.id, fleet.id)
    assert vehicles[strangers] == (stranger.id, elsewhere.id)
    # fleet A's audit never names fleet B's vehicle
    events = await pool.fetch(
        "SELECT before, after FROM audit_events WHERE fleet_id = $1", fleet.id
    )
    assert events
    assert strangers not in json.dumps([dict(e) for e in events], default=str)


async def test_a_manager_accepts_the_account_connect_found_for_a_colleague(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    a1, a2 = await factory.employee(fleet), await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    own = await _consent(await _start(api, manager, a2.id), sim_vehicles="2")
    assert (await api.get(own.path_qs)).status == 200
    user_id = await pool.fetchval("SELECT smartcar_user_id FROM smartcar_connections")
    a1_key = await factory.key("employee", fleet, a1)
    taken = await _consent(await _start(api, a1_key, a1.id), sim_user=user_id)
    assert (await api.get(taken.path_qs)).status == 409
    resp = await api.get(
        "/v1/reassignments",
        params={"status": "pending"},
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert resp.status == 200, await resp.text()
    (offer,) = (await resp.json())["items"]
    assert offer["employee_id"] == str(a1.id)
    assert offer["current_employee_id"] == str(a2.id)
    assert offer["connection_id"] is not None
    accept = f"/v1/reassignments/{offer['id']}/accept"
    for key, status in (
        (a1_key, 403),  # not the employee's own decision
        (await factory.key("manager", fleet, a1), 403),  # nor a key bound to either of them
        (await factory.key("manager", fleet, a2), 403),
        (await factory.key("manager", await factory.fleet()), 404),
    ):
        resp = await api.post(accept, headers={"Authorization": f"Bearer {key}"})
        assert resp.status == status, await resp.text()
    assert {owner for owner, _ in (await _vehicles(pool)).values()} == {a2.id}
    resp = await api.post(accept, headers={"Authorization": f"Bearer {manager}"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "accepted"
    assert {owner for owner, _ in (await _vehicles(pool)).values()} == {a1.id}
    assert await pool.fetchval("SELECT employee_id FROM smartcar_connections") == a1.id
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE action = 'reassign'") == 1
    again = await api.post(accept, headers={"Authorization": f"Bearer {manager}"})
    assert again.status == 409


async def test_a_refused_vehicle_reassignment_leaves_the_car_where_it_is(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet, elsewhere = await factory.fleet(), await factory.fleet()
    a1, colleague = await factory.employee(fleet), await factory.employee(fleet)
    stranger = await factory.employee(elsewhere)
    user = sim.create_user(3)
    _, colleagues, strangers = user.vehicle_ids
    for employee, smartcar_id in ((colleague, colleagues), (stranger, strangers)):
        await pool.execute(
            "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)"
            " VALUES ($1, $2, $3, 'TESLA')",
            employee.fleet_id,
            employee.id,
            smartcar_id,
        )
    key = await factory.key("employee", fleet, a1)
    callback = await _consent(await _start(api, key, a1.id), sim_user=user.user_id)
    assert (await api.get(callback.path_qs)).status == 200
    manager = {"Authorization": f"Bearer {await factory.key('manager', fleet)}"}
    offers = (await (await api.get("/v1/reassignments", headers=manager)).json())["items"]
    assert len(offers) == 1  # the colleague's car; nothing about the other fleet's
    assert offers[0]["current_employee_id"] == str(colleague.id)
    resp = await api.post(f"/v1/reassignments/{offers[0]['id']}/refuse", headers=manager)
    assert resp.status == 200, await resp.text()
    assert (await _vehicles(pool))[colleagues] == (colleague.id, fleet.id)
    other = {"Authorization": f"Bearer {await factory.key('manager', elsewhere)}"}
    assert (await (await api.get("/v1/reassignments", headers=other)).json())["items"] == []
