"""The month-end close: draft (and, where the fleet says so, finalize) the month just ended,
then render the finalized statements' PDFs. Run by the worker under an advisory lock, so any
number of workers do it once at a time, and by `billing statements close` by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from billing.db import master
from billing.db import statements as repo
from billing.db.pool import Pool, connection
from billing.domain.access import Principal
from billing.domain.statement_models import DraftCounts
from billing.domain.statements import closable_period
from billing.services import pdfs, statements
from billing.services.common import system

log = logging.getLogger(__name__)
WORKER: Principal = system("worker:month-end")


@dataclass(frozen=True, slots=True)
class CloseReport:
    fleet_id: UUID
    period: str
    drafts: DraftCounts
    finalized: int
    pdfs: int


Step = Callable[[str, int, int], None]  # (what, done, total)


def _quiet(what: str, done: int, total: int) -> None:
    return None


async def close_period(
    pool: Pool,
    who: Principal,
    *,
    fleet_id: UUID,
    period: str,
    finalize: bool,
    now: datetime,
    step: Step = _quiet,
) -> CloseReport:
    """Draft the month; finalize every draft (all or nothing) when asked; render the PDFs."""
    step("drafting", 0, 1)
    counts = await statements.refresh_drafts(pool, who, fleet_id=fleet_id, period=period)
    step("drafting", 1, 1)
    finalized = 0
    if finalize:
        step("finalizing", 0, 1)
        finalized = len(
            await statements.finalize_period(pool, who, fleet_id=fleet_id, period=period, now=now)
        )
        step("finalizing", 1, 1)
    async with connection(pool) as conn:
        missing = await repo.finalized_without_pdf(conn, fleet_id, period)
    for done, statement_id in enumerate(missing):
        step("rendering PDFs", done, len(missing))
        await pdfs.statement_pdf(pool, who, statement_id)
    step("rendering PDFs", len(missing), len(missing))
    return CloseReport(fleet_id, period, counts, finalized, len(missing))


async def run_month_end(pool: Pool, *, now: datetime, grace_days: int) -> list[CloseReport] | None:
    """Every fleet whose month ended `grace_days` ago (in its own time zone); None when
    another worker holds the job."""
    async with repo.month_end_lock(pool) as mine:
        if not mine:
            return None
        async with connection(pool) as conn:
            fleets = await repo.fleets_with_open_lines(conn)
        reports = []
        for fleet in fleets:
            period = closable_period(timezone=fleet.timezone, now=now, grace_days=grace_days)
            if period is None:
                continue
            try:
                reports.append(
                    await close_period(
                        pool,
                        WORKER,
                        fleet_id=fleet.id,
                        period=period,
                        finalize=fleet.statement_auto_finalize,
                        now=now,
                    )
                )
            except Exception:
                log.exception("month-end close of fleet %s for %s failed", fleet.id, period)
        return reports


async def fleet_exists(pool: Pool, fleet_id: UUID) -> None:
    async with connection(pool) as conn:
        await master.get_fleet(conn, fleet_id)
