"""Three processes, one refresh per connection: expired access tokens, 401s that only the
simulator knows about, and refresh tokens near their 60-day limit, over imported multi-car
Smartcar users. Refreshes are counted at the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from tests.conftest import SECRET_KEY
from tests.factories import Factory

PROCESS = """
import asyncio, json, sys, time
from billing.config import load_settings
from billing.db.pool import create_pool
from billing.sync.runner import run_pass, sync_context

async def main() -> None:
    settings = load_settings()
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=4)
    try:
        async with sync_context(settings, pool) as ctx:
            await asyncio.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # start together
            report, refreshed = await asyncio.gather(
                run_pass(ctx), ctx.keeper.refresh_stale(ctx.clock())
            )
    finally:
        await pool.close()
    print(json.dumps({"outcomes": [r.outcome for r in report.results], "upkeep": refreshed}))

asyncio.run(main())
"""

# Smartcar users: how many cars each, all imported through the API.
USERS = (2, 2, 1)


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.smartcar_client_secret is not None
    return {
        **os.environ,
        "BILLING_DATABASE_URL": settings.database_url.get_secret_value(),
        "BILLING_SECRET_KEY": SECRET_KEY,
        "BILLING_SMARTCAR_API_URL": str(settings.smartcar_api_url),
        "BILLING_SMARTCAR_AUTH_URL": str(settings.smartcar_auth_url),
        "BILLING_SMARTCAR_CLIENT_ID": settings.smartcar_client_id or "",
        "BILLING_SMARTCAR_CLIENT_SECRET": settings.smartcar_client_secret.get_secret_value(),
        "BILLING_SMARTCAR_RATE_BURST": "1000",
        "BILLING_SMARTCAR_RATE_PER_MINUTE": "1000",
        "BILLING_SMARTCAR_CONCURRENCY": "2",  # each process claims a share of the cars
        "BILLING_SMARTCAR_TIMEOUT_S": "5",
        "BILLING_LOG_FORMAT": "json",
    }


@pytest.mark.parametrize("path", ["expired", "unauthorized", "stale"])
async def test_three_processes_refresh_each_connection_exactly_once(
    path: str,
    client: TestClient[Any, Any],
    sync_settings: Settings,
    sim: Simulator,
    pool: Pool,
    factory: Factory,
) -> None:
    fleet = await factory.fleet()
    key = await factory.key("manager", fleet)
    vehicles = 0
    for cars in USERS:
        employee = await factory.employee(fleet)
        user = sim.create_user(cars)
        tokens: dict[str, str] = {
            "access_token": user.access_token or "",
            "refresh_token": user.refresh_token or "",
            "access_expires_at": user.access_expires_at.isoformat(),
        }
        if path == "expired":
            tokens["access_expires_at"] = "2000-01-01T00:00:00Z"
        for smartcar_id in user.vehicle_ids:
            body = {
                "employee_id": str(employee.id),
                "smartcar_vehicle_id": smartcar_id,
                "make": "TESLA",
                "tokens": tokens,
            }
            resp = await client.post("/v1/vehicles", json=body, headers=factory.auth(key))
            assert resp.status == 201, await resp.text()
            vehicles += 1
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections") == len(USERS)
    if path == "unauthorized":
        # The access tokens expire at Smartcar while our copy still looks valid: every first
        # call is a 401 (tied to the token, so a refreshed token is accepted).
        sim.advance(sim.options.access_ttl_s + 60)
    if path == "stale":
        await pool.execute(
            "UPDATE smartcar_connections SET refresh_issued_at = now() - interval '50 days'"
        )
    sim.set_token_fault("slow", 20, delay_s=0.3)  # refreshes overlap across the processes
    sim.reset_stats()

    start_at = time.time() + 3
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PROCESS,
            str(start_at),
            env=_env(sync_settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 120)
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))

    outcomes = [outcome for result in results for outcome in result["outcomes"]]
    assert sorted(outcomes) == ["ok"] * vehicles, results
    assert sum(bool(result["outcomes"]) for result in results) >= 2, results  # shared out
    assert sim.stats().refreshes == len(USERS), results
    generations = await pool.fetch("SELECT generation FROM smartcar_connections")
    assert [row["generation"] for row in generations] == [2] * len(USERS)
    if path == "stale":
        assert sum(result["upkeep"] for result in results) == len(USERS), results
    if path == "unauthorized":
        assert sim.stats().by_status.get("401", 0) >= len(USERS)  # the refusals did happen
