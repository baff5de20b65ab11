"""A sync pass: claim due vehicles under leases, spend the shared budget on them, read them.

Used by `billing sync` and by every worker tick. Vehicles are claimed only as budget is
granted, so a lease is never held by a vehicle waiting for budget, and a crashed process's
leases expire and the vehicles are read by others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import aiohttp

from billing.config import Settings
from billing.crypto import TokenCipher
from billing.db import vehicles
from billing.db.budget import Bucket
from billing.db.pool import Pool
from billing.db.queries import queries
from billing.smartcar.client import SmartcarClient
from billing.sync.outcomes import SyncResult
from billing.sync.tokens import TokenKeeper
from billing.sync.vehicle import SyncContext, explain_skip, sync_vehicle

_q = queries("sync")
log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def sync_context(
    settings: Settings, pool: Pool, *, clock: Callable[[], datetime] = utcnow
) -> AsyncIterator[SyncContext]:
    """The HTTP session, client, token keeper and bucket of one process."""
    if settings.secret_key is None:
        raise ValueError("BILLING_SECRET_KEY is required to read Smartcar tokens")
    async with aiohttp.ClientSession() as session:
        client = SmartcarClient.from_settings(session, settings)
        cipher = TokenCipher(settings.secret_key.get_secret_value())
        async with pool.acquire() as conn:
            await vehicles.check_secret_key(conn, cipher)
        keeper = TokenKeeper(pool, cipher, client)
        await keeper.revive()
        yield SyncContext(
            pool=pool,
            client=client,
            keeper=keeper,
            bucket=Bucket(settings.smartcar_rate_burst, settings.smartcar_rate_per_minute),
            settings=settings,
            worker=worker_name(),
            clock=clock,
            rng=random.Random(),
        )


@dataclass
class PassReport:
    results: list[SyncResult] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(result.outcome != "ok" for result in self.results)


def _lease_seconds(settings: Settings) -> float:
    # Long enough for a token refresh and the read, each bounded by the timeout.
    return 3 * settings.smartcar_timeout_s + 30


async def due_count(ctx: SyncContext, only: Sequence[UUID] | None) -> int:
    count: int = await ctx.pool.fetchval(
        _q.due_count, ctx.clock(), list(only) if only else None, bool(only)
    )
    return count


async def run_pass(
    ctx: SyncContext,
    *,
    only: Sequence[UUID] | None = None,
    wait_for_budget: bool = True,
    on_result: Callable[[SyncResult], None] | None = None,
    stop: asyncio.Event | None = None,
) -> PassReport:
    """Read every due vehicle (or the ones named, due or not) once.

    With `wait_for_budget`, waits for the bucket to refill until the pass is done; otherwise
    spends what the bucket has now and leaves the rest for the next tick.
    """
    report = PassReport()
    seen: set[UUID] = set()
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def read(vehicle_id: UUID) -> None:
        result: SyncResult | None = None
        try:
            result = await sync_vehicle(ctx, vehicle_id)
        finally:
            async with ctx.pool.acquire() as conn, conn.transaction():
                ended = await conn.fetch(_q.release_lease, vehicle_id, ctx.worker)
                await ctx.bucket.settle(conn, ended=len(ended))
                if result is not None and not result.called:
                    await ctx.bucket.refund(conn, 1)
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            failures.append(error)

    try:
        while stop is None or not stop.is_set():
            if len(tasks) >= ctx.settings.smartcar_concurrency:
                # Budget is taken only for a read that starts at once: a granted call waiting
                # for a free slot would hold its lease idle, and reach Smartcar late.
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            wanted = [v for v in dict.fromkeys(only) if v not in seen] if only else None
            if only and not wanted:
                break
            batch = ctx.settings.smartcar_concurrency - len(tasks)
            # Lease, then take budget for the leases, in one transaction: claiming needs no
            # lock on the bucket, and the granted leases are calls in flight for every other
            # process once committed. Leases not granted are never seen by anyone.
            async with ctx.pool.acquire() as conn, conn.transaction():
                budget = min(batch, await ctx.bucket.whole(conn))
                rows = []
                if budget:
                    rows = await conn.fetch(
                        _q.claim_due,
                        ctx.clock(),
                        ctx.worker,
                        budget,
                        wanted,
                        _lease_seconds(ctx.settings),
                        bool(only),
                    )
                # A vehicle due again after its read in this pass is left for the next pass.
                fresh = [row["id"] for row in rows if row["id"] not in seen]
                granted = await ctx.bucket.take(conn, len(fresh), leased=len(rows)) if fresh else 0
                claimed = fresh[:granted]
                for vehicle_id in {row["id"] for row in rows}.difference(claimed):
                    await conn.execute(_q.release_lease, vehicle_id, ctx.worker)
            for vehicle_id in claimed:
                seen.add(vehicle_id)
                task = asyncio.create_task(read(vehicle_id))
                tasks.add(task)
                task.add_done_callback(done)
            if claimed:
                continue
            if budget and not fresh:
                # Budget was there but nothing is due (any more): the pass is over once the
                # reads in flight finish.
                break
            if not wait_for_budget:
                break
            await _sleep_or_stop(1.0, stop)
    finally:
        # No read outlives its pass: the caller closes the pool and the HTTP session next.
        if tasks:
            await asyncio.wait(tasks)
    if failures:
        raise failures[0]
    for vehicle_id in dict.fromkeys(only or ()):
        if vehicle_id not in seen:
            result = await explain_skip(ctx, vehicle_id)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
    return report


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
