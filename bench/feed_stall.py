"""How long the change feed stalls while another database on the same server holds a transaction.

The feed hands out a change only once every transaction with a smaller id has ended, and
that horizon (pg_snapshot_xmin) is server-wide: a transaction left open in any database of
the server holds back every feed on it. For each hold time H, a transaction in a second,
unrelated database takes an id and stays open H seconds; 0.2 s in, a change commits in the
feed's database; a poller following the feed (billing.db.changes.list_changes, every 10 ms)
records when the change arrives. Prints, per H, the stall (commit to delivery) and what
/metrics reports just before the transaction ends (billing.db.changes.held_back).

Creates two throwaway databases on the server of BILLING_TEST_DATABASE_URL (else on an
embedded server) and drops them afterwards.

    python bench/feed_stall.py [--hold-s 0 1 5 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from billing.db import audit, changes
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.domain.changes import Position

POLL_S = 0.01
COMMIT_AFTER_S = 0.2


@contextmanager
def server() -> Iterator[str]:
    configured = os.environ.get("BILLING_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    from billing.db.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="feed-stall-") as tmp:
        embedded = EmbeddedServer(Path(tmp))
        try:
            yield embedded.dsn("postgres")
        finally:
            embedded.stop()


async def admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def trial(feed_dsn: str, other_dsn: str, hold_s: float) -> tuple[float, float | None]:
    """One hold: (stall in seconds, the held-back gauge just before the hold ends)."""
    feed = await asyncpg.connect(feed_dsn)
    writer = await asyncpg.connect(feed_dsn)
    other = await asyncpg.connect(other_dsn)
    try:
        after = Position()
        while (
            page := await changes.list_changes(feed, after=after, fleet_id=None, limit=500)
        ).changes:
            after = changes.decode_position(page.next_cursor)
        after = changes.decode_position(page.next_cursor)
        changed = uuid.uuid4()
        seen = asyncio.Event()
        committed_at = 0.0
        seen_at = 0.0

        async def poll() -> None:
            nonlocal after, seen_at
            while True:
                page = await changes.list_changes(feed, after=after, fleet_id=None, limit=500)
                after = changes.decode_position(page.next_cursor)
                if any(c.id == changed for c in page.changes):
                    seen_at = time.perf_counter()
                    seen.set()
                    return
                await asyncio.sleep(POLL_S)

        began = time.perf_counter()
        if hold_s:
            await other.execute("BEGIN")
            await other.fetchval("SELECT pg_current_xact_id()")
        polling = asyncio.create_task(poll())
        await asyncio.sleep(COMMIT_AFTER_S)
        async with writer.transaction():
            await audit.record(
                writer,
                actor="cli",
                fleet_id=None,
                entity="fleet",
                entity_id=changed,
                action="create",
            )
        committed_at = time.perf_counter()
        gauge = None
        if hold_s:
            await asyncio.sleep(max(0.0, began + hold_s - time.perf_counter()))
            gauge = (await changes.held_back(writer)).age_s
            await other.execute("COMMIT")
        await asyncio.wait_for(seen.wait(), timeout=hold_s + 60)
        await polling
        return seen_at - committed_at, gauge
    finally:
        for conn in (feed, writer, other):
            await conn.close()


async def main(holds: list[float], repeat: int) -> None:
    with server() as dsn:
        suffix = uuid.uuid4().hex[:8]
        feed_db, other_db = f"feed_stall_{suffix}", f"feed_stall_other_{suffix}"
        await admin(dsn, f'CREATE DATABASE "{feed_db}"')
        await admin(dsn, f'CREATE DATABASE "{other_db}"')
        try:
            feed_dsn = with_database(dsn, feed_db)
            await asyncio.to_thread(upgrade, feed_dsn)
            print("| held open (s) | stall, median (s) | min to max (s) | gauge at release (s) |")
            print("|---:|---:|---:|---:|")
            for hold in holds:
                results = [
                    await trial(feed_dsn, with_database(dsn, other_db), hold) for _ in range(repeat)
                ]
                stalls = [s for s, _ in results]
                gauges = [g for _, g in results if g is not None]
                gauge = f"{statistics.median(gauges):.2f}" if gauges else "-"
                print(
                    f"| {hold:g} | {statistics.median(stalls):.2f} |"
                    f" {min(stalls):.2f}-{max(stalls):.2f} | {gauge} |"
                )
        finally:
            await admin(dsn, f'DROP DATABASE IF EXISTS "{feed_db}" WITH (FORCE)')
            await admin(dsn, f'DROP DATABASE IF EXISTS "{other_db}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold-s", type=float, nargs="+", default=[0, 1, 5, 10])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.hold_s, args.repeat))
