"""Smartcar Connect onboarding against the simulator: link, replay, forgery, errors, reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from billing.app import create_app
from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from tests.factories import Factory

Client = TestClient[Any, Any]


@pytest.fixture
async def api(sync_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sync_settings))) as client:
        yield client


async def _consent(start: URL, **extra: str) -> URL:
    """Follow Connect like a browser would: the simulator consents and redirects back."""
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(start.update_query(extra), allow_redirects=False) as response,
    ):
        assert response.status == 302, await response.text()
        return URL(response.headers["Location"])


async def _start(api: Client, key: str, employee_id: Any) -> URL:
    response = await api.get(
        f"/v1/connect/start?employee_id={employee_id}",
        headers={"Authorization": f"Bearer {key}"},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    location = URL(response.headers["Location"])
    assert location.query["scope"] == "read_charge_records read_vehicle_info"
    assert location.query["state"]
    return location


async def test_connect_links_vehicles_and_refuses_replays_and_forgeries(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    key = await factory.key("employee", fleet, employee)
    callback = await _consent(await _start(api, key, employee.id), sim_vehicles="2")
    assert callback.path == "/v1/connect/callback"
    response = await api.get(callback.path_qs)
    assert response.status == 200, await response.text()
    assert "2 car(s) are now connected" in await response.text()
    rows = await pool.fetch("SELECT * FROM vehicles WHERE employee_id = $1", employee.id)
    assert len(rows) == 2
    assert all(row["connection_id"] is not None for row in rows)
    assert all(row["sync_state"] == "new" for row in rows)

    replay = await api.get(callback.path_qs)
    assert replay.status == 400
    assert "already used" in await replay.text()

    state = callback.query["state"]
    forged = callback.update_query(state=state[:-3] + ("AAA" if state[-3:] != "AAA" else "BBB"))
    response = await api.get(forged.path_qs)
    assert response.status == 400
    assert "not issued by this service" in await response.text()
    response = await api.get("/v1/connect/callback?code=x")
    assert response.status == 400


@pytest.mark.parametrize("error", ["access_denied", "vehicle_incompatible", "no_vehicles"])
async def test_connect_errors_are_shown_not_500(
    api: Client, sim: Simulator, factory: Factory, error: str
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    callback = await _consent(await _start(api, manager, employee.id), sim_error=error)
    response = await api.get(callback.path_qs)
    assert response.status == 400
    assert "was not connected" in await response.text()


async def test_who_may_start_connect(api: Client, factory: Factory) -> None:
    fleet, other = await factory.fleet(), await factory.fleet()
    me, colleague = await factory.employee(fleet), await factory.employee(fleet)
    stranger = await factory.employee(other)
    cases = [
        (await factory.key("employee", fleet, me), colleague.id, 404),
        (await factory.key("hr", fleet), me.id, 403),
        (await factory.key("manager", fleet), stranger.id, 404),
        (await factory.key("manager", fleet), me.id, 302),
    ]
    for key, employee_id, status in cases:
        response = await api.get(
            f"/v1/connect/start?employee_id={employee_id}",
            headers={"Authorization": f"Bearer {key}"},
            allow_redirects=False,
        )
        assert response.status == status


async def test_reconnecting_a_broken_vehicle_reuses_its_row(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    first = await _consent(await _start(api, manager, employee.id))
    assert (await api.get(first.path_qs)).status == 200
    vehicle = await pool.fetchrow("SELECT id FROM vehicles")
    assert vehicle is not None
    await pool.execute(
        "UPDATE vehicles SET sync_state = 'needs_reauth', synced_through = '2026-01-01', "
        'last_error = \'{"type": "PERMISSION"}\''
    )
    user_id = await pool.fetchval("SELECT smartcar_user_id FROM smartcar_connections")
    again = await _consent(await _start(api, manager, employee.id), sim_user=user_id)
    assert (await api.get(again.path_qs)).status == 200
    rows = await pool.fetch("SELECT * FROM vehicles")
    assert [row["id"] for row in rows] == [vehicle["id"]]
    assert rows[0]["sync_state"] == "ok"
    assert rows[0]["last_error"] is None
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections") == 1
