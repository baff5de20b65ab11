"""API keys' life cycle: list, create with a lifetime, revoke, last use, guessing limited."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing.app import create_app
from billing.config import Settings
from billing.db import apikeys
from billing.db.pool import Pool, transaction
from billing.domain.apikeys import FailureLimiter, parse_duration
from billing.domain.errors import Unauthenticated
from tests.conftest import SECRET_KEY
from tests.factories import Factory

Client = TestClient[Any, Any]


async def _billing(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(
        BILLING_DATABASE_URL=settings.database_url.get_secret_value(),
        BILLING_SECRET_KEY=SECRET_KEY,
        BILLING_LOG_FORMAT="json",
    )
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "billing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cli_creates_lists_and_revokes_keys(
    settings: Settings, client: Client, factory: Factory
) -> None:
    fleet = await factory.fleet()
    done = await _billing(
        settings, "apikey", "create", "--role", "hr", "--fleet", str(fleet.id),
        "--name", "payroll", "--expires-in", "30d",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    prefix = key.rpartition("_")[0]
    assert (await client.get("/v1/changes", headers=factory.auth(key))).status == 200

    listed = await _billing(settings, "apikey", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert key.rpartition("_")[2] not in listed.stdout  # the secret is never listed
    rows = {row["prefix"]: row for row in map(json_loads, listed.stdout.splitlines())}
    row = rows[prefix]
    assert row["role"] == "hr"
    assert row["name"] == "payroll"
    expires = datetime.fromisoformat(row["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert row["last_used_at"] is not None  # the request above used it
    table = await _billing(settings, "apikey", "list")
    assert prefix in table.stdout
    assert "active" in table.stdout

    revoked = await _billing(settings, "apikey", "revoke", prefix)
    assert revoked.returncode == 0, revoked.stderr
    response = await client.get("/v1/changes", headers=factory.auth(key))
    assert response.status == 401
    assert "revoked" in (await response.json())["detail"]

    unknown = await _billing(settings, "apikey", "revoke", "fb_hr_AAAAAAAA")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: no API key with prefix fb_hr_AAAAAAAA"
    bad = await _billing(settings, "apikey", "create", "--role", "admin", "--expires-in", "soon")
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr


def json_loads(text: str) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(text)
    return loaded


async def test_admin_manages_keys_over_the_api(client: Client, factory: Factory) -> None:
    fleet = await factory.fleet()
    admin = factory.auth(await factory.key("admin"))
    manager = factory.auth(await factory.key("manager", fleet))

    body = {"role": "manager", "fleet_id": str(fleet.id), "name": "ops", "expires_in": "12h"}
    created = await client.post("/v1/api-keys", json=body, headers=admin)
    assert created.status == 201, await created.text()
    new = await created.json()
    key, prefix = new["key"], new["prefix"]
    assert key.startswith(prefix + "_")
    lifetime = datetime.fromisoformat(new["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=11) < lifetime <= timedelta(hours=12)

    page = await (await client.get("/v1/api-keys", headers=admin)).json()
    listed = {item["prefix"]: item for item in page["items"]}
    assert prefix in listed
    assert all("key" not in item and "secret_hash" not in item for item in page["items"])
    assert key.rpartition("_")[2] not in str(page)

    assert (await client.get("/v1/api-keys", headers=manager)).status == 403
    assert (await client.post("/v1/api-keys", json=body, headers=manager)).status == 403
    wrong = {"role": "hr", "expires_in": "0d"}
    assert (await client.post("/v1/api-keys", json=wrong, headers=admin)).status == 422

    used = factory.auth(key)
    assert (await client.get("/v1/fleets", headers=used)).status == 200
    revoked = await client.post(f"/v1/api-keys/{prefix}/revoke", headers=admin)
    assert revoked.status == 200
    assert (await revoked.json())["revoked_at"] is not None
    assert (await client.get("/v1/fleets", headers=used)).status == 401
    again = await client.post(f"/v1/api-keys/{prefix}/revoke", headers=admin)
    assert again.status == 200
    missing = await client.post("/v1/api-keys/fb_hr_ZZZZZZZZ/revoke", headers=admin)
    assert missing.status == 404


async def test_expired_key_is_refused(client: Client, pool: Pool, factory: Factory) -> None:
    fleet = await factory.fleet()
    async with transaction(pool) as conn:
        key = await apikeys.create_key(
            conn,
            role="manager",
            fleet_id=fleet.id,
            employee_id=None,
            name="short",
            expires_at=datetime.now(UTC) + timedelta(seconds=2),
        )
    assert (await client.get("/v1/fleets", headers=factory.auth(key))).status == 200
    async with pool.acquire() as conn:
        later = datetime.now(UTC) + timedelta(seconds=3)
        with pytest.raises(Unauthenticated, match="expired"):
            await apikeys.authenticate(conn, key, later)


async def test_last_use_is_written_at_most_once_a_minute(pool: Pool, factory: Factory) -> None:
    key = await factory.key("admin")
    prefix = key.rpartition("_")[0]
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await apikeys.authenticate(conn, key, now)
        await apikeys.authenticate(conn, key, now + timedelta(seconds=30))
        (first,) = [k for k in await apikeys.list_keys(conn) if k.prefix == prefix]
        assert first.last_used_at == now
        await apikeys.authenticate(conn, key, now + timedelta(seconds=61))
        (second,) = [k for k in await apikeys.list_keys(conn) if k.prefix == prefix]
        assert second.last_used_at == now + timedelta(seconds=61)


async def test_guessing_keys_is_rate_limited_per_address(
    settings: Settings, factory: Factory
) -> None:
    good = factory.auth(await factory.key("admin"))
    limited_settings = settings.model_copy(update={"auth_failures_per_minute": 20})
    async with TestClient(TestServer(create_app(limited_settings))) as client:
        assert (await client.get("/v1/fleets")).status == 401  # no key: not counted
        statuses = []
        for n in range(25):
            guess = factory.auth(f"fb_admin_AAAAAAAA_{n}")
            statuses.append((await client.get("/v1/fleets", headers=guess)).status)
        assert statuses[:20] == [401] * 20
        assert set(statuses[20:]) == {429}
        limited = await client.get("/v1/fleets", headers=good)
        assert limited.status == 429  # the address is refused before any lookup
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 60


def test_failure_limiter_window() -> None:
    limiter = FailureLimiter(limit=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("a", t) is None
        limiter.failed("a", t)
    assert limiter.retry_after("a", 3.0) == 57.0
    assert limiter.retry_after("b", 3.0) is None  # other addresses are not affected
    assert limiter.retry_after("a", 60.5) is None  # the first failure left the window
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
