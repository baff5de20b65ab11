"""The change feed across a digit change of the transaction id, under concurrent writers.

PostgreSQL's transaction ids only grow, and a server's current one is whatever its history
made it: so this test runs on a server of its own whose ids start just below 10**10 (epoch 2,
beyond 32 bits too), whatever BILLING_TEST_DATABASE_URL points at. Ordering positions as
text instead of numbers makes "10000000000" sort before "9999999999": pollers then skip and
repeat changes once a page spans the change of digit.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing.app import create_app
from billing.config import load_settings
from billing.db import apikeys, changes
from billing.db.dsn import with_database
from billing.db.embedded import XIDS_PER_CLOG_PAGE, EmbeddedServer
from billing.db.migrations import upgrade
from billing.db.pool import Connection, Pool, create_pool
from billing.domain.decisions import Action, Requested
from billing.domain.line_items import LineItem
from billing.services import money
from tests.conftest import SECRET_KEY
from tests.factories import Factory
from tests.line_item_factories import build_scene

Client = TestClient[Any, Any]
DIGIT = 10**10  # the first id with eleven digits
FIRST_XID = (DIGIT - 20_000) // XIDS_PER_CLOG_PAGE * XIDS_PER_CLOG_PAGE
BULK = 300  # decisions in each of two bulk transactions: more than a page of 500 in all
LIMITS = (1, 7, 500)


@pytest.fixture(scope="module")
def xid_dsn() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="billing-xid-") as tmp:
        server = EmbeddedServer(Path(tmp), next_xid=FIRST_XID)
        try:
            admin = server.dsn("postgres")
            asyncio.run(_execute(admin, 'CREATE DATABASE "billing"'))
            dsn = with_database(admin, "billing")
            upgrade(dsn)
            yield dsn
        finally:
            server.stop()


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def xid_pool(xid_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(xid_dsn, min_size=1, max_size=12)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def xid_client(xid_dsn: str) -> AsyncIterator[Client]:
    settings = load_settings(database_url=xid_dsn, secret_key=SECRET_KEY, log_format="json")
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def current_xid(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT pg_current_xact_id()::text"))


async def burn_until(conn: Connection, xid: int) -> None:
    """Use up transaction ids (one short transaction each) until the next one is `xid`."""
    while (missing := xid - await current_xid(conn) - 1) > 0:
        await conn.execute("BEGIN; SELECT pg_current_xact_id(); COMMIT; " * min(missing, 1000))


async def test_every_change_once_for_every_limit_across_a_digit_of_the_xid(
    xid_client: Client, xid_pool: Pool
) -> None:
    pool, client = xid_pool, xid_client
    scene = await build_scene(Factory(pool))
    headers = {"Authorization": f"Bearer {scene.keys['hr']}"}
    employees = [scene.me, scene.colleague]
    items: list[LineItem] = []
    for n in range(2 * BULK + 48):
        day = date(2025, 1, 1) + timedelta(days=n // 2)
        items.append(await scene.pending(employees[n % 2], day))
    bulk_below, bulk_above, singles = items[:BULK], items[BULK : 2 * BULK], items[2 * BULK :]
    async with pool.acquire() as conn:
        who = await apikeys.authenticate(conn, scene.keys["manager"])
        start = await current_xid(conn)
        assert start < DIGIT - 300, "migrations and the scene used up the ids below the digit"
        await burn_until(conn, DIGIT - 150)
    writers_done = asyncio.Event()
    done_at: list[int] = []  # an id after every write: a page past it has seen them all

    async def poller(limit: int, seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            finished = done_at[0] if writers_done.is_set() else None
            params = {"limit": str(limit), **({"after": cursor} if cursor else {})}
            resp = await client.get("/v1/changes", params=params, headers=headers)
            assert resp.status == 200, await resp.text()
            body = await resp.json()
            seen += body["changes"]
            cursor = body["next_cursor"]
            if not body["changes"]:
                if finished is not None and changes.decode_position(cursor).xid >= finished - 1:
                    return seen
                await asyncio.sleep(rng.uniform(0.005, 0.03))

    async def decide(conn: Connection, batch: list[LineItem], action: Action, version: int) -> None:
        reason = "again" if action == "reopen" else None
        await money.decide(conn, who, [Requested(i.id, action, version, reason) for i in batch])

    async def writer(batch: list[LineItem], seed: int) -> None:
        local = random.Random(seed)
        for item in batch:
            async with pool.acquire() as conn, conn.transaction():
                if local.random() < 0.3:  # hold the transaction open in the database itself
                    await conn.execute("SELECT pg_sleep($1)", local.uniform(0.01, 0.05))
                await decide(conn, [item], "approve", 1)
                await asyncio.sleep(local.uniform(0, 0.04))
                if local.random() < 0.5:
                    await decide(conn, [item], "reopen", 2)

    async def burner() -> None:
        async with pool.acquire() as conn:
            while (xid := await current_xid(conn)) < DIGIT + 150:
                await burn_until(conn, xid + 10)
                await asyncio.sleep(0.01)

    polling = [asyncio.create_task(poller(limit, seed)) for seed, limit in enumerate(LIMITS)]
    async with pool.acquire() as holder:
        # One transaction below the digit stays open while the ids cross it: when it ends,
        # every poller is handed a backlog that spans the digit, larger than any page.
        transaction = holder.transaction()
        await transaction.start()
        await decide(holder, bulk_below, "approve", 1)
        writing = asyncio.gather(*(writer(singles[w::4], seed=w) for w in range(4)))
        await burner()
        async with pool.acquire() as conn, conn.transaction():
            await decide(conn, bulk_above, "approve", 1)
        await transaction.commit()
    await writing
    async with pool.acquire() as conn:
        done_at.append(await current_xid(conn))
    writers_done.set()
    seen_by_limit = dict(
        zip(LIMITS, await asyncio.wait_for(asyncio.gather(*polling), 60), strict=True)
    )

    logged = await pool.fetch(
        "SELECT id, xid::text AS xid FROM audit_events WHERE fleet_id = $1 ORDER BY id",
        scene.fleet.id,
    )
    xids = [int(row["xid"]) for row in logged]
    assert min(xids) < DIGIT <= max(xids), "the changes did not cross the digit"
    assert len(logged) >= 2 * BULK + len(singles)
    logged_ids = [row["id"] for row in logged]
    problems = {}
    for limit, seen in seen_by_limit.items():
        positions = [changes.decode_position(c["cursor"]) for c in seen]
        ids = [p.id for p in positions]
        problem = {
            "out of order": positions != sorted(positions),
            "repeated": len(ids) - len(set(ids)),
            "lost": len(set(logged_ids) - set(ids)),
        }
        if any(problem.values()) or sorted(ids) != logged_ids:
            problems[limit] = problem
    assert problems == {}, f"of {len(logged_ids)} changes, per limit: {problems}"


@pytest.mark.parametrize("xid", [0, 1000, 2**32, 3 * 2**32 + XIDS_PER_CLOG_PAGE + 1])
def test_a_next_xid_off_a_commit_log_page_or_on_an_epoch_start_is_refused(
    tmp_path: Path, xid: int
) -> None:
    with pytest.raises(ValueError, match="next_xid must be a multiple"):
        EmbeddedServer(tmp_path, next_xid=xid)
    assert not (tmp_path / "postgres").exists()  # refused before anything was started
