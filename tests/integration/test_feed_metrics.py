"""The feed's stall, on /metrics: an open transaction in another database holds it back."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from billing.db import audit
from billing.db.dsn import with_database
from billing.db.pool import Pool
from tests.factories import Factory

Client = TestClient[Any, Any]


async def gauges(client: Client) -> dict[str, float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    values = {}
    for line in (await resp.text()).splitlines():
        if line.startswith("billing_change_feed_held_back_"):
            name, value = line.split()
            values[name.removeprefix("billing_change_feed_held_back_")] = float(value)
    return values


async def feed(client: Client, key: str, after: str | None) -> dict[str, Any]:
    params = {"after": after} if after else {}
    resp = await client.get("/v1/changes", params=params, headers={"Authorization": key})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_metrics_show_how_long_the_oldest_transaction_holds_the_feed_back(
    client: Client, factory: Factory, pool: Pool, server_dsn: str
) -> None:
    key = f"Bearer {await factory.key('admin')}"
    cursor = (await feed(client, key, None))["next_cursor"]
    other = await asyncpg.connect(with_database(server_dsn, "postgres"))
    try:
        # A transaction with an id, in another database of the same server: nothing written.
        await other.execute("BEGIN")
        await other.fetchval("SELECT pg_current_xact_id()")
        began: datetime = await other.fetchval("SELECT now()")
        changed = uuid.uuid4()
        async with pool.acquire() as conn:
            await audit.record(
                conn, actor="cli", fleet_id=None, entity="fleet", entity_id=changed, action="create"
            )
        async with asyncio.timeout(20):
            while True:
                held = await gauges(client)
                if held["seconds"] >= 1:
                    break
                await asyncio.sleep(0.05)
        assert held["xids"] >= 1
        # the change committed, and the feed withholds it while the older transaction runs
        page = await feed(client, key, cursor)
        assert str(changed) not in {c["id"] for c in page["changes"]}
        await other.execute("COMMIT")
    finally:
        await other.close()

    async with asyncio.timeout(20):
        seen: list[str] = []
        while str(changed) not in seen:
            page = await feed(client, key, cursor)
            seen += [c["id"] for c in page["changes"]]
            cursor = page["next_cursor"]
            await asyncio.sleep(0.02)
        # once it ended, what holds the feed back (if anything) is younger than it
        async with pool.acquire() as conn:
            while True:
                held = await gauges(client)
                age = await conn.fetchval(
                    "SELECT extract(epoch FROM clock_timestamp() - $1)", began
                )
                if not math.isnan(held["seconds"]) and held["seconds"] < float(age):
                    break
                await asyncio.sleep(0.05)
