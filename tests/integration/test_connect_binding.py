"""Connect cannot hand a car to someone else: the state is bound to the starting browser, and
a car already linked to another employee moves only when a manager accepts it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from billing.app import create_app
from billing.config import Settings
from billing.db.pool import Pool
from billing.domain.models import Employee
from billing.smartcar_sim import Simulator
from tests.factories import Factory
from tests.integration.test_connect import _consent, _start

Client = TestClient[Any, Any]


@pytest.fixture
async def api(sync_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sync_settings))) as client:
        yield client


async def _connect(api: Client, key: str, employee: Employee, **sim: str) -> tuple[int, str]:
    callback = await _consent(await _start(api, key, employee.id), **sim)
    response = await api.get(callback.path_qs)
    return response.status, await response.text()


async def test_a_forwarded_link_does_not_connect_in_another_browser(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    sender = await factory.employee(fleet)
    key = await factory.key("employee", fleet, sender)
    # the sender starts Connect and forwards the consent link; a colleague opens it
    consent = await _start(api, key, sender.id)
    callback = await _consent(consent)
    api.session.cookie_jar.clear()
    response = await api.get(callback.path_qs)
    assert response.status == 400
    assert "belongs to another browser" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM vehicles") == 0
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections") == 0


async def test_the_binding_cookie_is_http_only_and_scoped_to_the_callback(
    api: Client, factory: Factory, sim: Simulator
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    response = await api.get(
        f"/v1/connect/start?employee_id={employee.id}",
        headers={"Authorization": f"Bearer {await factory.key('manager', fleet)}"},
        allow_redirects=False,
    )
    cookie = response.cookies["fb_connect"]
    assert cookie["httponly"]
    assert cookie["path"] == "/v1/connect/callback"
    assert cookie["samesite"] == "Lax"
    assert cookie.value not in URL(response.headers["Location"]).query["state"]


async def _user_of(pool: Pool, employee: Employee) -> str:
    user: str = await pool.fetchval(
        "SELECT smartcar_user_id FROM smartcar_connections WHERE employee_id = $1", employee.id
    )
    return user


async def test_a_car_of_another_employee_stays_until_a_manager_accepts_the_move(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    owner, newcomer = await factory.employee(fleet), await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    status, _ = await _connect(api, manager, owner)
    assert status == 200
    vehicle: UUID = await pool.fetchval("SELECT id FROM vehicles")
    status, text = await _connect(api, manager, newcomer, sim_user=await _user_of(pool, owner))
    assert status == 200
    assert "already belongs to another employee: it was not moved" in text
    assert await pool.fetchval("SELECT employee_id FROM vehicles") == owner.id
    auth = {"Authorization": f"Bearer {manager}"}
    listed = await (await api.get("/v1/vehicle-reassignments?status=pending", headers=auth)).json()
    [move] = listed["items"]
    assert (move["from_employee_id"], move["to_employee_id"]) == (str(owner.id), str(newcomer.id))
    accepted = await api.post(
        f"/v1/vehicle-reassignments/{move['id']}/accept", json={}, headers=auth
    )
    assert accepted.status == 200, await accepted.text()
    assert await pool.fetchval("SELECT employee_id FROM vehicles") == newcomer.id
    again = await api.post(f"/v1/vehicle-reassignments/{move['id']}/accept", json={}, headers=auth)
    assert again.status == 409
    actions = await pool.fetch(
        "SELECT action FROM audit_events WHERE entity = 'vehicle' AND entity_id = $1 ORDER BY id",
        vehicle,
    )
    assert [a["action"] for a in actions] == ["link", "reassignment_requested", "reassigned"]


async def test_a_refused_move_keeps_the_car_and_a_bound_manager_cannot_decide_his_own(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    owner, newcomer = await factory.employee(fleet), await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    await _connect(api, manager, owner)
    await _connect(api, manager, newcomer, sim_user=await _user_of(pool, owner))
    move = await pool.fetchval("SELECT id FROM vehicle_reassignments")
    bound = await factory.key("manager", fleet, newcomer)
    response = await api.post(
        f"/v1/vehicle-reassignments/{move}/accept",
        json={},
        headers={"Authorization": f"Bearer {bound}"},
    )
    assert response.status == 403
    response = await api.post(
        f"/v1/vehicle-reassignments/{move}/refuse",
        json={"reason": "the car stays with its driver"},
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert response.status == 200
    assert await pool.fetchval("SELECT employee_id FROM vehicles") == owner.id


async def test_another_fleets_car_is_not_moved_and_not_named_in_this_fleets_audit(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet_a, fleet_b = await factory.fleet(), await factory.fleet()
    in_b, in_a = await factory.employee(fleet_b), await factory.employee(fleet_a)
    await _connect(api, await factory.key("manager", fleet_b), in_b)
    smartcar_id = await pool.fetchval("SELECT smartcar_vehicle_id FROM vehicles")
    status, text = await _connect(
        api, await factory.key("manager", fleet_a), in_a, sim_user=await _user_of(pool, in_b)
    )
    assert status == 200
    assert "is registered elsewhere" in text
    assert await pool.fetchval("SELECT employee_id FROM vehicles") == in_b.id
    assert await pool.fetchval("SELECT count(*) FROM vehicle_reassignments") == 0
    leaked = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE fleet_id = $1 AND "
        "(coalesce(after::text, '') || coalesce(before::text, '')) LIKE '%' || $2 || '%'",
        fleet_a.id,
        smartcar_id,
    )
    assert leaked == 0


async def test_a_failed_consent_consumes_the_state_and_never_echoes_upstream_text(
    api: Client, sim: Simulator, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    callback = await _consent(await _start(api, manager, employee.id), sim_error="access_denied")
    crafted = callback.update_query(
        error="server_error", error_description="Call +1-555-SCAM to get paid"
    )
    response = await api.get(crafted.path_qs)
    assert response.status == 400
    assert "SCAM" not in await response.text()
    replay = await api.get(callback.path_qs)
    assert "already used" in await replay.text()
