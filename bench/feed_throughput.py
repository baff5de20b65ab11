"""Change feed: changes per second a poller reads with the largest page, against its floor.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL), migrates it,
writes `--changes` line-item audit events shaped like the ledger's (the whole row with its
evidence blob), starts a real `billing serve` on the loopback interface and drains
`GET /v1/changes?limit=1000` (the feed's largest page) from the start, following
`next_cursor`, as a payroll poller does. The floor is the same feed query run directly
with asyncpg, page after page, in the same run. The database is dropped afterwards.

    BILLING_TEST_DATABASE_URL=postgresql://… python bench/feed_throughput.py [--changes 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid

import aiohttp
import asyncpg

from billing.crypto import new_key
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.db.queries import queries
from billing.domain.changes import MAX_FEED_LIMIT

LIMIT = MAX_FEED_LIMIT  # 1000, the page the issue names

SEED = """
WITH fleet AS (
    INSERT INTO fleets (name, currency, timezone) VALUES ('bench', 'EUR', 'Europe/Berlin')
    RETURNING id
)
INSERT INTO audit_events (actor, fleet_id, entity, entity_id, action, after)
SELECT 'bench', fleet.id, 'line_item', gen_random_uuid(), 'create',
       jsonb_build_object(
           'id', gen_random_uuid(), 'fleet_id', fleet.id, 'employee_id', gen_random_uuid(),
           'vehicle_id', gen_random_uuid(), 'charge_record_id', gen_random_uuid(),
           'charge_date', (date '2025-01-01' + (n % 365)), 'period', '2025-01',
           'kind', 'charge', 'adjusts_id', null, 'kwh', '12.3400', 'unit_price', '0.320000',
           'currency', 'EUR', 'amount', '3.9500', 'tariff_id', gen_random_uuid(),
           'status', 'pending', 'decided_by', null, 'decided_at', null, 'reason', null,
           'version', 1, 'statement_id', null, 'created_at', now(), 'updated_at', now(),
           'evidence', jsonb_build_object('record', jsonb_build_object('raw', repeat('x', 400))))
FROM fleet, generate_series(1, $1) AS n;
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _floor(dsn: str) -> tuple[int, float]:
    q = queries("changes")
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        xid, last, seen = "0", 0, 0
        while True:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                horizon = await conn.fetchval(q.horizon)
                rows = await conn.fetch(
                    q.list_changes, xid, last, horizon, ["line_item"], None, LIMIT
                )
            if not rows:
                return seen, time.perf_counter() - started
            seen += len(rows)
            xid, last = rows[-1]["xid_text"], rows[-1]["id"]
    finally:
        await conn.close()


async def _poll(url: str, key: str) -> tuple[int, float, float]:
    headers = {"Authorization": f"Bearer {key}"}
    seen, after, slowest = 0, None, 0.0
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        while True:
            params = {"limit": str(LIMIT), **({"after": after} if after else {})}
            t0 = time.perf_counter()
            async with http.get(f"{url}/v1/changes", params=params, headers=headers) as resp:
                body = await resp.json()
                assert resp.status == 200, body
            slowest = max(slowest, time.perf_counter() - t0)
            if not body["changes"]:
                return seen, time.perf_counter() - started, slowest
            seen += len(body["changes"])
            after = body["next_cursor"]


async def main(changes: int) -> None:
    server = os.environ["BILLING_TEST_DATABASE_URL"]
    name = f"billing_bench_feed_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(server, name)
    api = None
    try:
        await asyncio.to_thread(upgrade, dsn)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(SEED, changes)
            await conn.execute("ANALYZE audit_events")
            # The feed hands out only what every older transaction on the server has left
            # behind; on a shared server wait until that horizon has passed the seed.
            newest = await conn.fetchval("SELECT max(xid)::text FROM audit_events")
            for _ in range(600):
                horizon = await conn.fetchval(queries("changes").horizon)
                if int(horizon) > int(newest):
                    break
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
        env.update(
            BILLING_DATABASE_URL=dsn,
            BILLING_SECRET_KEY=new_key(),
            BILLING_PORT=str(port),
            BILLING_LOG_FORMAT="json",
        )
        billing = [sys.executable, "-m", "billing"]
        made = await asyncio.create_subprocess_exec(
            *billing, "apikey", "create", "--role", "admin", env=env, stdout=subprocess.PIPE
        )
        key = (await made.communicate())[0].decode().strip()
        api = await asyncio.create_subprocess_exec(
            *billing, "serve", env=env, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{url}/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        floor_n, floor_s = await _floor(dsn)
        await _poll(url, key)  # warm-up
        seen, took, slowest = await _poll(url, key)
        assert seen == floor_n == changes, (seen, floor_n, changes)
        api_rate, floor_rate = seen / took, floor_n / floor_s
        print(f"changes: {changes:,}, pages of {LIMIT}")
        print(f"floor (feed query over asyncpg): {floor_rate:,.0f} changes/s ({floor_s:.2f} s)")
        print(f"GET /v1/changes poller:          {api_rate:,.0f} changes/s ({took:.2f} s)")
        print(
            f"ratio API / floor: {api_rate / floor_rate:.2f}; slowest page {slowest * 1000:.0f} ms"
        )
    finally:
        if api is not None:
            api.terminate()
            await asyncio.wait_for(api.wait(), timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().changes))
