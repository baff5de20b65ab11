"""Token lifecycle: one refresh however many coroutines and processes ask; lost answers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime
from uuid import UUID

import aiohttp
import pytest

from billing.config import Settings
from billing.crypto import TokenCipher
from billing.db.pool import Pool
from billing.smartcar.client import SmartcarClient
from billing.smartcar_sim import Simulator
from billing.sync.tokens import TokenKeeper
from tests.conftest import SECRET_KEY
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

RACE = """
import asyncio, json, sys
from datetime import UTC, datetime
from uuid import UUID
import aiohttp
from billing.config import load_settings
from billing.crypto import TokenCipher
from billing.db.pool import create_pool
from billing.smartcar.client import SmartcarClient
from billing.sync.tokens import TokenKeeper

async def main() -> None:
    settings = load_settings()
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=5)
    async with aiohttp.ClientSession() as session:
        client = SmartcarClient.from_settings(session, settings)
        keeper = TokenKeeper(pool, TokenCipher(settings.secret_key.get_secret_value()), client)
        now = datetime.now(UTC)
        tokens = await asyncio.gather(
            *(keeper.access_token(UUID(sys.argv[1]), now) for _ in range(50))
        )
    await pool.close()
    print(json.dumps(sorted(set(tokens))))

asyncio.run(main())
"""


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    return {
        **os.environ,
        "BILLING_DATABASE_URL": settings.database_url.get_secret_value(),
        "BILLING_SECRET_KEY": SECRET_KEY,
        "BILLING_SMARTCAR_API_URL": str(settings.smartcar_api_url),
        "BILLING_SMARTCAR_AUTH_URL": str(settings.smartcar_auth_url),
        "BILLING_SMARTCAR_CLIENT_ID": settings.smartcar_client_id or "",
        "BILLING_SMARTCAR_CLIENT_SECRET": (
            settings.smartcar_client_secret.get_secret_value()
            if settings.smartcar_client_secret
            else ""
        ),
        "BILLING_LOG_FORMAT": "json",
    }


async def _connection(pool: Pool) -> UUID:
    connection_id: UUID = await pool.fetchval("SELECT id FROM smartcar_connections")
    return connection_id


async def test_150_callers_in_3_processes_cause_exactly_one_refresh(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(1)
    await import_vehicle(pool, employee, user, expired=True)
    connection_id = await _connection(pool)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACE,
            str(connection_id),
            env=_env(sync_settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
    seen = {token for out, _ in outputs for token in json.loads(out)}
    assert len(seen) == 1  # all 150 callers got the same, new access token
    assert sim.stats().refreshes == 1
    newest = sim.user(user.user_id)
    stored = await pool.fetchrow(
        "SELECT refresh_token_enc, access_token_enc, generation FROM smartcar_connections"
    )
    assert stored is not None
    cipher = TokenCipher(SECRET_KEY)
    assert cipher.decrypt(stored["refresh_token_enc"]) == newest.refresh_token
    assert cipher.decrypt(stored["access_token_enc"]) == seen.pop() == newest.access_token
    assert stored["generation"] == 2


async def test_a_refresh_whose_answer_is_lost_is_recovered_within_the_grace_window(
    sync_settings: Settings,
    sim: Simulator,
    pool: Pool,
    factory: Factory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(1)
    await import_vehicle(pool, employee, user, expired=True)
    sim.set_token_fault("drop", 1)  # Smartcar rotates, but the answer never arrives
    async with aiohttp.ClientSession() as session:
        client = SmartcarClient.from_settings(
            session, sync_settings.model_copy(update={"smartcar_timeout_s": 1.0})
        )
        keeper = TokenKeeper(pool, TokenCipher(SECRET_KEY), client)
        token = await keeper.access_token(await _connection(pool), datetime.now(UTC))
    newest = sim.user(user.user_id)
    assert token == newest.access_token
    stats = sim.stats()
    assert stats.refreshes == 1
    assert stats.refresh_reuses == 1  # the old refresh token, used again inside the grace
    stored = await pool.fetchval("SELECT refresh_token_enc FROM smartcar_connections")
    assert TokenCipher(SECRET_KEY).decrypt(stored) == newest.refresh_token
    # no token value reached the logs, at any level
    for secret in (
        user.access_token,
        user.refresh_token,
        newest.access_token,
        newest.refresh_token,
    ):
        assert secret
        assert secret not in caplog.text
