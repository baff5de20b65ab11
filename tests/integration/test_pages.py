"""Hardened responses: security headers on every answer, pages without inline script, and a
Connect state that works once whatever the outcome."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from billing.app import create_app
from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from tests.factories import Factory
from tests.integration.test_connect import _consent, _start

Client = TestClient[Any, Any]
VERSION = re.compile(r"[0-9]+\.[0-9]+")


@pytest.fixture
async def api(sync_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sync_settings))) as client:
        yield client


def _check_headers(headers: Any, what: str) -> None:
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, what
    assert "unsafe-inline" not in csp, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    server = headers.get("Server", "")
    assert not VERSION.search(server), (what, server)
    assert "aiohttp" not in server.lower(), (what, server)
    assert "python" not in server.lower(), (what, server)
    if headers.get("Content-Type", "").startswith("text/html"):
        assert "script-src 'self'" in csp, what
        assert "default-src 'none'" in csp, what


async def test_every_kind_of_answer_carries_the_security_headers(
    api: Client, factory: Factory
) -> None:
    fleet = await factory.fleet()
    key = await factory.key("manager", fleet)
    auth = {"Authorization": f"Bearer {key}"}
    calls = [
        ("GET", "/docs", {}),
        ("GET", "/v1/openapi.json", {}),
        ("GET", "/healthz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/v1/fleets", auth),  # personal data
        ("GET", "/v1/fleets", {}),  # 401
        ("GET", "/v1/nowhere", {}),  # 404 without a route
        ("DELETE", "/v1/fleets", auth),  # 405
        ("GET", f"/v1/fleets/{fleet.id}", auth),
        ("GET", "/v1/connect/callback?state=x", {}),  # a page
    ]
    for method, path, headers in calls:
        resp = await api.request(method, path, headers=headers, allow_redirects=False)
        _check_headers(resp.headers, f"{method} {path} {resp.status}")
        assert resp.headers.get("Cache-Control") == "no-store", path
    for asset in ("/assets/docs.js", "/assets/docs.css", "/assets/page.css"):
        resp = await api.get(asset)
        assert resp.status == 200
        _check_headers(resp.headers, asset)


async def test_a_malformed_request_gets_no_version_banner(api: Client) -> None:
    reader, writer = await asyncio.open_connection(api.host, api.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert " 400 " in head.split("\r\n")[0], head
    assert "aiohttp" not in head.lower(), head
    assert "python" not in head.lower(), head


async def test_no_page_carries_inline_script_or_style(api: Client) -> None:
    docs = await api.get("/docs")
    page = await docs.text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page
    assert re.search(r"\son[a-z]+=", page) is None
    script = await api.get("/assets/docs.js")
    assert 'fetch("/v1/openapi.json")' in await script.text()
    callback = await api.get("/v1/connect/callback?state=x")
    text = await callback.text()
    assert "<script" not in text
    assert "<style" not in text


async def test_a_failed_state_is_used_up_and_its_error_text_is_never_shown(
    api: Client, sim: Simulator, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = await factory.key("manager", fleet)
    callback = await _consent(await _start(api, manager, employee.id), sim_error="access_denied")
    planted = "Your account is locked: call +1 555 0100 now"
    attack = callback.update_query(error="server_error", error_description=planted)
    first = await api.get(callback.path_qs)
    assert first.status == 400
    assert "was not connected" in await first.text()
    assert first.headers["Cache-Control"] == "no-store"
    again = await api.get(attack.path_qs)  # the same state, the attacker's words
    text = await again.text()
    assert again.status == 400
    assert "already used" in text
    assert planted not in text
    # nor on a first use
    fresh = await _consent(await _start(api, manager, employee.id), sim_error="access_denied")
    forged = await api.get(fresh.update_query(error="x", error_description=planted).path_qs)
    assert planted not in await forged.text()


async def test_the_connect_page_does_not_say_a_car_is_in_another_fleet(
    api: Client, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet, elsewhere = await factory.fleet(), await factory.fleet()
    employee, stranger = await factory.employee(fleet), await factory.employee(elsewhere)
    user = sim.create_user(1)
    await pool.execute(
        "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)"
        " VALUES ($1, $2, $3, 'TESLA')",
        elsewhere.id,
        stranger.id,
        user.vehicle_ids[0],
    )
    key = await factory.key("employee", fleet, employee)
    callback: URL = await _consent(await _start(api, key, employee.id), sim_user=user.user_id)
    resp = await api.get(callback.path_qs)
    text = await resp.text()
    assert resp.status == 200, text
    assert "not linked" in text
    assert "fleet" not in text.replace("fleet manager", "")
    assert resp.headers["Cache-Control"] == "no-store"  # it names the employee
