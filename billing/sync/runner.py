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
from billing.db import sync_vehicles, vehicles
from billing.db.budget import Bucket
from billing.db.pool import Pool, connection
from billing.db.sync_vehicles import Finished, SyncVehicle
from billing.domain.errors import Retryable
from billing.smartcar.client import SmartcarClient
from billing.sync.outcomes import SyncResult, local_error
from billing.sync.tokens import TokenKeeper
from billing.sync.vehicle import SyncContext, explain_skip, sync_vehicle

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
        bucket = Bucket(settings.smartcar_rate_burst, settings.smartcar_rate_per_minute)
        async with connection(pool) as conn:
            await vehicles.check_secret_key(conn, cipher)
            await bucket.ensure(conn)
        keeper = TokenKeeper(pool, cipher, client)
        await keeper.revive()
        yield SyncContext(
            pool=pool,
            client=client,
            keeper=keeper,
            bucket=bucket,
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
    return await sync_vehicles.due_count(ctx.pool, ctx.clock(), only)


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
    sync_pass = _Pass(ctx, only=list(dict.fromkeys(only or ())), on_result=on_result)
    try:
        await sync_pass.claim_and_read(wait_for_budget=wait_for_budget, stop=stop)
    finally:
        # No read outlives its pass: the caller closes the pool and the HTTP session next.
        await sync_pass.finish()
    if sync_pass.failures:
        raise sync_pass.failures[0]
    for vehicle_id in sync_pass.only:
        if vehicle_id not in sync_pass.seen:
            sync_pass.report_result(await explain_skip(ctx, vehicle_id))
    return sync_pass.report


class _Pass:
    """The state of one pass: what was claimed, the reads in flight, and the reads finished
    whose leases are still held (they end in the next claim's transaction, or the pass's
    last one, with the bucket settled once for all of them)."""

    def __init__(
        self,
        ctx: SyncContext,
        *,
        only: list[UUID],
        on_result: Callable[[SyncResult], None] | None,
    ) -> None:
        self.ctx = ctx
        self.only = only
        self.on_result = on_result
        self.report = PassReport()
        self.seen: set[UUID] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: list[BaseException] = []
        self.finished: list[Finished] = []

    async def claim_and_read(self, *, wait_for_budget: bool, stop: asyncio.Event | None) -> None:
        concurrency = self.ctx.settings.smartcar_concurrency
        while stop is None or not stop.is_set():
            if len(self.tasks) >= concurrency:
                # Budget is taken only for a read that starts at once: a granted call waiting
                # for a free slot would hold its lease idle, and reach Smartcar late.
                await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            wanted = [v for v in self.only if v not in self.seen] if self.only else None
            if self.only and not wanted:
                return
            # Lease, then take budget for the leases, in one transaction: claiming needs no
            # lock on the bucket, and the granted leases are calls in flight for every other
            # process once committed. Leases not granted are never seen by anyone.
            claimed = await self.claim(concurrency - len(self.tasks), wanted)
            for row in claimed.vehicles:
                self.seen.add(row.id)
                task = asyncio.create_task(self.read(row))
                self.tasks.add(task)
                task.add_done_callback(self.done)
            if claimed.vehicles:
                continue
            if claimed.budget and not claimed.fresh:
                # Budget was there but nothing is due (any more): the pass is over once the
                # reads in flight finish.
                return
            if not wait_for_budget:
                return
            await _sleep_or_stop(1.0, stop)

    async def finish(self) -> None:
        if self.tasks:
            await asyncio.wait(self.tasks)
        if self.finished:
            await self.claim(0, None)

    async def read(self, row: SyncVehicle) -> None:
        result: SyncResult | None = None
        try:
            result = await sync_vehicle(self.ctx, row)
        except Retryable as busy:
            # A lost race or a busy database is not the vehicle's doing: nothing of it is
            # marked, the vehicle stays due and the next pass reads it again.
            log.warning("reading vehicle %s: %s; it is read again next pass", row.id, busy)
            error = local_error("DATABASE", f"the database was busy: {busy}")
            result = SyncResult(row.id, "retry_later", error=error)
        finally:
            self.finished.append(Finished(row.id, result.called if result is not None else True))
        self.report_result(result)

    def report_result(self, result: SyncResult) -> None:
        self.report.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.failures.append(error)

    async def claim(self, limit: int, wanted: list[UUID] | None) -> sync_vehicles.Claim:
        ending = self.finished[:]
        self.finished.clear()
        try:
            return await sync_vehicles.claim(
                self.ctx.pool,
                self.ctx.bucket,
                now=self.ctx.clock(),
                worker=self.ctx.worker,
                limit=limit,
                only=wanted,
                lease_s=_lease_seconds(self.ctx.settings),
                seen=self.seen,
                finished=ending,
            )
        except BaseException:
            self.finished.extend(ending)
            raise


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
