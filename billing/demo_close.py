"""The demo fleet's month-end: last month closed (finalized statements with PDFs, one voided
and reissued, one export, one credit note) and this month's drafts, all through the services
and the decision code path, as a fleet manager and HR would do it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from billing.db import line_items
from billing.db import statements as repo
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.decisions import Requested
from billing.domain.statement_models import FleetSettingsBody
from billing.domain.statements import CreditRequest, period_of, previous_period
from billing.services import credit_notes, exports, fleets, month_end, pdfs, statements
from billing.services.common import system

DEMO = system("demo:seed")
BATCH = 500


async def _approve_period(pool: Pool, fleet_id: UUID, period: str, *, every: int = 1) -> int:
    """Approve the period's pending lines (every `every`-th one) as a manager would."""
    async with connection(pool) as conn:
        pending = await repo.pending_of_period(conn, fleet_id, period)
    chosen = [Requested(line.id, "approve", line.version) for line in pending[::every]]
    for start in range(0, len(chosen), BATCH):
        async with transaction(pool) as conn:
            await line_items.decide(conn, DEMO, chosen[start : start + BATCH])
    return len(chosen)


async def close_demo_months(pool: Pool, fleet_id: UUID) -> str | None:
    """Once: what a month-end looks like. Returns a summary, None when done before."""
    if await statements.list_statements(
        pool,
        DEMO,
        fleet_id=fleet_id,
        employee_id=None,
        period=None,
        status=None,
        after=After(),
        limit=1,
    ):
        return None
    now = datetime.now(UTC)
    await fleets.update_settings(pool, DEMO, fleet_id, FleetSettingsBody(locale="de-DE"))
    this = period_of(now.astimezone(ZoneInfo("Europe/Berlin")).date())
    last = previous_period(this)
    await _approve_period(pool, fleet_id, last)
    closed = await month_end.close_period(
        pool, DEMO, fleet_id=fleet_id, period=last, finalize=True, now=now
    )
    if closed.finalized == 0:
        return f"no approved lines in {last}; nothing closed"
    first = (
        await statements.list_statements(
            pool,
            DEMO,
            fleet_id=fleet_id,
            employee_id=None,
            period=last,
            status="finalized",
            after=After(),
            limit=1,
        )
    )[0]
    await statements.void_statement(
        pool, DEMO, first.id, reason="demo: issued before a late correction was approved"
    )
    await month_end.close_period(pool, DEMO, fleet_id=fleet_id, period=last, finalize=True, now=now)
    export = await exports.create_export(pool, DEMO, fleet_id=fleet_id, format="csv", now=now)
    reissued = (
        await statements.list_statements(
            pool,
            DEMO,
            fleet_id=fleet_id,
            employee_id=first.employee_id,
            period=last,
            status="finalized",
            after=After(),
            limit=1,
        )
    )[0]
    detail = await statements.get_statement(pool, DEMO, reissued.id)
    line = next(line for line in detail.lines if line.amount > 0)
    note = await credit_notes.create_credit_note(
        pool,
        DEMO,
        statement_id=reissued.id,
        reason="demo: the employee charged a guest's car that day",
        lines=[CreditRequest(line.id)],
        now=now,
    )
    await pdfs.credit_note_pdf(pool, DEMO, note.id)
    await _approve_period(pool, fleet_id, this, every=2)
    drafts = await statements.refresh_drafts(pool, DEMO, fleet_id=fleet_id, period=this)
    return (
        f"statements: {last} closed ({closed.finalized} finalized with PDFs, {first.number}"
        f" voided and reissued as {reissued.number}), export of {export.documents}"
        f" document(s), credit note {note.number}; {drafts.created} draft(s) for {this}"
    )
