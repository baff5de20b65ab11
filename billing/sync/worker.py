"""`billing worker`: scheduled sync passes, token upkeep and the month-end close, any number
of processes at once.

APScheduler's AsyncIOScheduler (in-memory job store, created inside the running loop) fires
the jobs; coordination between processes is PostgreSQL's (leases, the shared bucket, row
locks on connections), so a worker never assumes it is alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from billing.db import idempotency, sync_vehicles
from billing.db.pool import connection
from billing.observability import new_request_id, request_context
from billing.services.month_end import run_month_end
from billing.sync.metrics import SyncMetrics
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext

log = logging.getLogger(__name__)
UPKEEP_EVERY = timedelta(minutes=30)
MONTH_END_EVERY = timedelta(hours=1)


@dataclass
class Worker:
    ctx: SyncContext
    metrics: SyncMetrics | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _running: set[asyncio.Task[object]] = field(default_factory=set)

    async def _tracked(self, job: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            if not self.stop.is_set():
                await job()
        except Exception:
            log.exception("worker job failed; it runs again at its next tick")
        finally:
            self._running.discard(task)

    async def tick(self) -> None:
        async def sync() -> None:
            await self.ctx.keeper.revive()
            on_result = self.metrics.outcome if self.metrics is not None else None
            with request_context(f"sync-{new_request_id()}"):
                report = await run_pass(
                    self.ctx, wait_for_budget=False, stop=self.stop, on_result=on_result
                )
            if report.results:
                log.info(
                    "sync tick: %d vehicle(s) read, %d not ok", len(report.results), report.failures
                )
            await self._warn_deadlines()

        await self._tracked(sync)

    async def upkeep(self) -> None:
        async def refresh() -> None:
            done = await self.ctx.keeper.refresh_stale(self.ctx.clock())
            if done:
                log.info("refreshed %d Smartcar connection(s) before their 60-day limit", done)
            async with connection(self.ctx.pool) as conn:
                purged = await idempotency.purge_expired(conn)
            if purged:
                log.info("purged %d expired idempotency key(s)", purged)

        await self._tracked(refresh)

    async def month_end(self) -> None:
        """Draft (and auto-finalize) the month just ended, once its grace days are over; the
        advisory lock lets one worker at a time do it, the others skip."""

        async def close() -> None:
            reports = await run_month_end(
                self.ctx.pool,
                now=self.ctx.clock(),
                grace_days=self.ctx.settings.statement_grace_days,
            )
            for report in reports or []:
                log.info(
                    "month-end %s of fleet %s: %d draft(s) created, %d refreshed,"
                    " %d finalized, %d PDF(s)",
                    report.period,
                    report.fleet_id,
                    report.drafts.created,
                    report.drafts.refreshed,
                    report.finalized,
                    report.pdfs,
                )

        await self._tracked(close)

    async def _warn_deadlines(self) -> None:
        at_risk = await sync_vehicles.deadlines_at_risk(self.ctx.pool, self.ctx.clock(), 5)
        if at_risk:
            log.warning("%d vehicle(s) will lose charge data within 5 days unless read", at_risk)

    async def run(self) -> None:
        """Run until `stop` is set, then finish the work in flight and release leases."""
        scheduler = AsyncIOScheduler()
        tick_s = self.ctx.settings.sync_tick_s
        # The scheduler fires on the wall clock; `ctx.clock` is the time reads are about
        # (the demo's runs ahead, on the simulator's), which must not delay the first tick.
        now = datetime.now(UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=tick_s,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            id="sync",
        )
        scheduler.add_job(
            self.upkeep,
            "interval",
            seconds=UPKEEP_EVERY.total_seconds(),
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            id="upkeep",
        )
        scheduler.add_job(
            self.month_end,
            "interval",
            seconds=MONTH_END_EVERY.total_seconds(),
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            id="month_end",
        )
        scheduler.start()
        log.info("worker %s started (tick %ss)", self.ctx.worker, tick_s)
        try:
            await self.stop.wait()
        finally:
            # Shutting the scheduler down cancels the jobs it is running, reads in flight
            # included: fire no new jobs, let the running ones finish (they see `stop`), and
            # only then shut it down.
            scheduler.pause()
            if self._running:
                log.info("finishing %d job(s) in flight", len(self._running))
                await asyncio.gather(*self._running, return_exceptions=True)
            scheduler.shutdown(wait=False)
            await sync_vehicles.release_all(self.ctx.pool, self.ctx.bucket, self.ctx.worker)
            log.info("worker %s stopped", self.ctx.worker)
