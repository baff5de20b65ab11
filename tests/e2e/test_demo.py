"""`billing demo` as a user runs it: start-up output, a car connected later, a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from billing.db.dsn import with_database
from tests.conftest import _admin

READY = "The worker keeps syncing in the background."


@pytest.fixture
async def demo_db(server_dsn: str) -> AsyncIterator[str]:
    name = f"billing_demo_{uuid.uuid4().hex[:10]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Demo:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def until_ready(self) -> list[str]:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout=240)
            assert raw, "the demo ended before it was ready:\n" + "\n".join(self.lines)
            self.lines.append(raw.decode().rstrip("\n"))
            if self.lines[-1].startswith(READY):
                return self.lines

    async def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.stdout is not None
        rest = await asyncio.wait_for(self.proc.stdout.read(), timeout=120)
        code = await asyncio.wait_for(self.proc.wait(), timeout=120)
        assert code == 0, "\n".join([*self.lines[-20:], rest.decode()[-4000:]])


async def _start(dsn: str, data_dir: Path, port: int) -> Demo:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(
        BILLING_DATABASE_URL=dsn,
        BILLING_DATA_DIR=str(data_dir),
        BILLING_PORT=str(port),
        BILLING_SYNC_TICK_S="1",
        BILLING_LOG_FORMAT="json",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing",
        "demo",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,  # one stream: what the user sees, in order
    )
    return Demo(proc)


def _key(lines: list[str], role: str) -> str:
    (line,) = [text for text in lines if text.strip().startswith(f"{role} ")]
    return line.split()[1]


async def _connect_new_car(url: str, manager: str, fleet_id: str) -> str:
    headers = {"Authorization": f"Bearer {manager}"}
    # a browser: it keeps the cookie that binds the Connect flow to it (on 127.0.0.1 too)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        body = {"fleet_id": fleet_id, "external_ref": "HR-LATE", "name": "Late Comer"}
        async with browser.post(f"{url}/v1/employees", json=body, headers=headers) as response:
            assert response.status == 201, await response.text()
            employee = (await response.json())["id"]
        start = f"{url}/v1/connect/start?employee_id={employee}"
        async with browser.get(start, headers=headers, allow_redirects=False) as response:
            consent = response.headers["Location"]
        async with browser.get(consent) as response:
            assert response.status == 200, await response.text()
    return str(employee)


async def _vehicle_after_first_attempt(url: str, manager: str, employee: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {manager}"}
    async with aiohttp.ClientSession() as client:
        for _ in range(240):
            query = f"{url}/v1/vehicles?employee_id={employee}"
            async with client.get(query, headers=headers) as response:
                items = (await response.json())["items"]
            if items and items[0]["sync"]["last_attempt_at"] is not None:
                vehicle: dict[str, Any] = items[0]
                return vehicle
            await asyncio.sleep(0.5)
    raise AssertionError("the worker never read the new car")


@pytest.mark.slow
async def test_demo_start_up_a_late_car_and_a_restart(demo_db: str, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    demo = await _start(demo_db, tmp_path, port)
    try:
        lines = await demo.until_ready()
        # the URL and the keys come without request logs before them
        assert not [line for line in lines if line.startswith("{")], "\n".join(lines)
        assert any(f"fleet-billing demo is running at {url}" in line for line in lines)
        assert any("pending (EUR " in line and line.count(".") <= 2 for line in lines)
        manager = _key(lines, "manager")
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"{url}/v1/fleets", headers={"Authorization": f"Bearer {manager}"}) as r,
        ):
            fleet_id = (await r.json())["items"][0]["id"]
        # a car connected while the demo runs (after it moved the simulator's clock) syncs
        employee = await _connect_new_car(url, manager, fleet_id)
        vehicle = await _vehicle_after_first_attempt(url, manager, employee)
        error = vehicle["sync"]["last_error"] or {}
        assert "startDate" not in str(error), error
        assert vehicle["sync"]["state"] == "ok" or error.get("type") != "VALIDATION", vehicle
    finally:
        await demo.stop()

    conn = await asyncpg.connect(demo_db)
    try:
        before = await conn.fetchval("SELECT count(*) FROM audit_events WHERE entity = 'vehicle'")
    finally:
        await conn.close()
    again = await _start(demo_db, tmp_path, port)
    try:
        await again.until_ready()
    finally:
        await again.stop()
    conn = await asyncpg.connect(demo_db)
    try:
        relinks = await conn.fetchval(
            "SELECT count(*) FROM audit_events WHERE entity = 'vehicle' AND action = 'relink'"
        )
        after = await conn.fetchval("SELECT count(*) FROM audit_events WHERE entity = 'vehicle'")
    finally:
        await conn.close()
    assert relinks == 0
    assert after == before  # restarting added no vehicle events to the feed
