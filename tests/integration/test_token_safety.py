"""Tokens nobody can read spend no budget; keys rotate; one refresh per expiry on every path."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from billing.app import create_app
from billing.config import Settings
from billing.crypto import TokenCipher, new_key
from billing.db import vehicles
from billing.db.budget import Bucket
from billing.db.pool import Pool, create_pool
from billing.smartcar.client import SmartcarClient
from billing.smartcar.records import ChargeRecordsResult
from billing.smartcar_sim import Simulator
from billing.sync.runner import due_count, run_pass, sync_context
from billing.sync.tokens import TokenKeeper
from billing.sync.vehicle import SyncContext
from tests.conftest import SECRET_KEY
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

OTHER_KEY = new_key()


async def _import_under(pool: Pool, key: str, *args: Any, **kw: Any) -> UUID:
    """Import a vehicle, then re-encrypt its connection's tokens under `key`."""
    vehicle_id = await import_vehicle(pool, *args, **kw)
    row = await pool.fetchrow(
        "SELECT c.* FROM smartcar_connections c JOIN vehicles v ON v.connection_id = c.id "
        "WHERE v.id = $1",
        vehicle_id,
    )
    assert row is not None
    ours, theirs = TokenCipher(SECRET_KEY), TokenCipher(key)
    await pool.execute(
        "UPDATE smartcar_connections SET access_token_enc = $2, refresh_token_enc = $3 "
        "WHERE id = $1",
        row["id"],
        theirs.encrypt(ours.decrypt(row["access_token_enc"])),
        theirs.encrypt(ours.decrypt(row["refresh_token_enc"])),
    )
    return vehicle_id


async def test_a_token_no_key_reads_gives_the_budget_back_and_the_pass_moves_on(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    readable = await import_vehicle(pool, employee, sim.create_user(1))
    unreadable = await _import_under(pool, OTHER_KEY, employee, sim.create_user(1))
    ctx = dataclasses.replace(sync_ctx, bucket=Bucket(capacity=5, per_minute=0.0001))
    async with pool.acquire() as conn:
        before, _ = await ctx.bucket.available(conn)

    report = await run_pass(ctx, only=[readable, unreadable])  # no exception escapes

    outcomes = {result.vehicle_id: result for result in report.results}
    assert outcomes[readable].outcome == "ok"
    assert outcomes[unreadable].outcome == "needs_key"
    error = outcomes[unreadable].error
    assert error is not None
    assert "BILLING_SECRET_KEY" in error["description"]
    async with pool.acquire() as conn:
        after, _ = await ctx.bucket.available(conn)
    assert round(before - after) == 1  # only the readable vehicle's call was spent
    assert sim.stats().requests == 1
    state = await pool.fetchval(
        "SELECT c.state FROM smartcar_connections c JOIN vehicles v ON v.connection_id = c.id "
        "WHERE v.id = $1",
        unreadable,
    )
    assert state == "needs_key"
    # it leaves the rotation: the next pass claims nothing for it and spends nothing
    await pool.execute("UPDATE vehicles SET next_sync_at = now() - interval '1 day'")
    assert await due_count(ctx, [unreadable]) == 0
    again = await run_pass(ctx, only=[unreadable])
    assert [r.outcome for r in again.results] == ["needs_key"]
    assert sim.stats().requests == 1


async def test_a_process_holding_the_key_revives_the_connection(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    await import_vehicle(pool, employee, sim.create_user(1))  # readable with SECRET_KEY
    vehicle_id = await _import_under(pool, OTHER_KEY, employee, sim.create_user(1))
    async with sync_context(sync_settings, pool) as ctx:
        assert (await run_pass(ctx, only=[vehicle_id])).results[0].outcome == "needs_key"
    both = sync_settings.model_copy(update={"secret_key": SecretStr(f"{SECRET_KEY},{OTHER_KEY}")})
    async with sync_context(both, pool) as ctx:
        result = (await run_pass(ctx, only=[vehicle_id])).results[0]
    assert result.outcome == "ok", result
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections WHERE state = 'active'")


async def test_starting_with_a_key_that_reads_no_stored_token_is_refused(
    sync_settings: Settings, settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    await _import_under(pool, OTHER_KEY, employee, sim.create_user(1))
    with pytest.raises(vehicles.SecretKeyMismatch, match="BILLING_SECRET_KEY"):
        async with sync_context(sync_settings, pool):
            pass
    runner = web.AppRunner(create_app(settings))  # what `billing serve` starts
    with pytest.raises(vehicles.SecretKeyMismatch, match="BILLING_SECRET_KEY"):
        await runner.setup()
    await runner.cleanup()


def _cli_env(settings: Settings, key: str) -> dict[str, str]:
    assert settings.database_url is not None
    return {
        **os.environ,
        "BILLING_DATABASE_URL": settings.database_url.get_secret_value(),
        "BILLING_SECRET_KEY": key,
        "BILLING_SMARTCAR_API_URL": str(settings.smartcar_api_url),
        "BILLING_SMARTCAR_AUTH_URL": str(settings.smartcar_auth_url),
        "BILLING_LOG_FORMAT": "json",
    }


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_billing_sync_with_a_wrong_key_says_so_in_one_line(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    await import_vehicle(pool, employee, sim.create_user(1))
    code, _, err = await _cli(_cli_env(sync_settings, OTHER_KEY), "sync", "--all")
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "BILLING_SECRET_KEY" in lines[0]
    assert sim.stats().requests == 0


async def test_billing_sync_over_an_unreadable_connection_exits_3_without_a_traceback(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    await import_vehicle(pool, employee, sim.create_user(1))
    vehicle_id = await _import_under(pool, OTHER_KEY, employee, sim.create_user(1))
    env = _cli_env(sync_settings, SECRET_KEY)
    code, out, err = await _cli(env, "sync", "--vehicle", str(vehicle_id), "--json")
    assert code == 3, err
    assert "Traceback" not in err
    assert '"outcome": "needs_key"' in out


async def test_rotate_secret_key_re_encrypts_every_token_under_the_first_key(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    for _ in range(3):
        await import_vehicle(pool, employee, sim.create_user(1))
    plain = TokenCipher(SECRET_KEY)
    await pool.execute(
        "UPDATE smartcar_connections SET previous_refresh_enc = $1",
        plain.encrypt("an old refresh token"),
    )
    before = {
        row["id"]: (plain.decrypt(row["access_token_enc"]), plain.decrypt(row["refresh_token_enc"]))
        for row in await pool.fetch("SELECT * FROM smartcar_connections")
    }
    new = new_key()
    env = _cli_env(sync_settings, f"{new},{SECRET_KEY}")
    for _ in range(2):  # idempotent
        code, out, err = await _cli(env, "rotate-secret-key")
        assert code == 0, err
        assert "re-encrypted 3 connection(s)" in out
    only_new = TokenCipher(new)
    rows = await pool.fetch("SELECT * FROM smartcar_connections")
    for row in rows:
        access = only_new.decrypt(row["access_token_enc"])
        refresh = only_new.decrypt(row["refresh_token_enc"])
        assert (access, refresh) == before[row["id"]]
        assert only_new.decrypt(row["previous_refresh_enc"]) == "an old refresh token"
    # a token no key reads is left as it is, and said so
    await _import_under(pool, OTHER_KEY, employee, sim.create_user(1))
    code, out, err = await _cli(env, "rotate-secret-key")
    assert code == 1
    assert "1 connection(s) decrypt with none" in err
    assert "Traceback" not in err


async def test_a_refresh_no_longer_keeps_the_replaced_refresh_token(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    vehicle_id = await import_vehicle(pool, employee, sim.create_user(1), expired=True)
    assert (await run_pass(sync_ctx, only=[vehicle_id])).results[0].outcome == "ok"
    row = await pool.fetchrow("SELECT generation, previous_refresh_enc FROM smartcar_connections")
    assert row is not None
    assert row["generation"] == 2
    assert row["previous_refresh_enc"] is None


class HeldClient(SmartcarClient):
    """Orders two vehicles' reads: the held vehicle's call is sent (with the token it already
    has) only after the other vehicle's read, refresh included, is done; that read starts only
    once the held vehicle has its token."""

    held: str
    entered: asyncio.Event
    release: asyncio.Event

    async def charge_records(self, vehicle_id: str, *args: Any, **kw: Any) -> ChargeRecordsResult:
        if vehicle_id == self.held and not self.release.is_set():
            self.entered.set()
            await asyncio.wait_for(self.release.wait(), 20)
        elif vehicle_id != self.held:
            await asyncio.wait_for(self.entered.wait(), 20)
        result = await super().charge_records(vehicle_id, *args, **kw)
        if vehicle_id != self.held:
            self.release.set()
        return result


async def test_a_401_seen_after_someone_else_refreshed_uses_their_pair(
    sync_settings: Settings, sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(2)
    first = await import_vehicle(pool, employee, user, 0)
    second = await pool.fetchval(
        "INSERT INTO vehicles (fleet_id, employee_id, connection_id, smartcar_vehicle_id, make,"
        " access_granted_on, next_sync_at) SELECT fleet_id, employee_id, connection_id, $2,"
        " make, access_granted_on, now() FROM vehicles WHERE id = $1 RETURNING id",
        first,
        user.vehicle_ids[1],
    )
    # Smartcar refuses both vehicles' first call although the token looks valid to us; the
    # second vehicle's refusal arrives after the first one's refresh was committed.
    sim.set_fault(user.vehicle_ids[0], "AUTHENTICATION")
    sim.set_fault(user.vehicle_ids[1], "AUTHENTICATION")
    async with aiohttp.ClientSession() as session:
        held = HeldClient.from_settings(session, sync_settings)
        assert isinstance(held, HeldClient)
        held.held, held.entered, held.release = (
            user.vehicle_ids[1],
            asyncio.Event(),
            asyncio.Event(),
        )
        ctx = dataclasses.replace(sync_ctx, client=held)
        report = await run_pass(ctx, only=[first, second])
    assert sorted(r.outcome for r in report.results) == ["ok", "ok"], report.results
    assert sim.stats().refreshes == 1
    assert await pool.fetchval("SELECT generation FROM smartcar_connections") == 2


async def test_proactive_upkeep_in_three_pools_refreshes_each_connection_once(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    for _ in range(6):
        await import_vehicle(pool, employee, sim.create_user(1))
    await pool.execute("UPDATE smartcar_connections SET refresh_issued_at = now() - interval '50d'")
    sim.set_token_fault("slow", 6, delay_s=0.2)  # refreshes overlap across the keepers
    assert sync_settings.database_url is not None
    pools = [
        await create_pool(sync_settings.database_url.get_secret_value(), max_size=3)
        for _ in range(3)
    ]
    try:
        async with aiohttp.ClientSession() as session:
            client = SmartcarClient.from_settings(session, sync_settings)
            keepers = [TokenKeeper(p, TokenCipher(SECRET_KEY), client) for p in pools]
            now = datetime.now(UTC)
            done = await asyncio.gather(*(k.refresh_stale(now) for k in keepers))
    finally:
        for p in pools:
            await p.close()
    assert sim.stats().refreshes == 6
    assert sum(done) == 6
    assert await pool.fetchval("SELECT sum(generation) FROM smartcar_connections") == 12


async def test_importing_two_cars_of_one_smartcar_user_makes_one_connection(
    client: TestClient[Any, Any], sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    other = await factory.employee(fleet)
    key = await factory.key("manager", fleet)
    user = sim.create_user(2)
    tokens = {"access_token": user.access_token, "refresh_token": user.refresh_token}
    connections = []
    for smartcar_id in user.vehicle_ids:
        resp = await client.post(
            "/v1/vehicles",
            json={
                "employee_id": str(employee.id),
                "smartcar_vehicle_id": smartcar_id,
                "make": "TESLA",
                "tokens": tokens,
            },
            headers=factory.auth(key),
        )
        assert resp.status == 201, await resp.text()
        connections.append(
            await pool.fetchval(
                "SELECT connection_id FROM vehicles WHERE id = $1", UUID((await resp.json())["id"])
            )
        )
    assert connections[0] == connections[1]
    assert await pool.fetchval("SELECT count(*) FROM smartcar_connections") == 1
    # the same chain for another employee is refused, not silently shared
    resp = await client.post(
        "/v1/vehicles",
        json={
            "employee_id": str(other.id),
            "smartcar_vehicle_id": "another-car",
            "make": "TESLA",
            "tokens": tokens,
        },
        headers=factory.auth(key),
    )
    assert resp.status == 409
    assert await pool.fetchval("SELECT count(*) FROM vehicles") == 2
