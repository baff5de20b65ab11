"""The demo's month-end: last month closed with PDFs, a void and reissue, one export, one
credit note, and this month's drafts, all through the services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billing.db.pool import Pool
from billing.demo_close import close_demo_months
from billing.domain.statements import period_start, previous_period
from tests.factories import Factory
from tests.line_item_factories import build_scene


async def test_demo_month_end(pool: Pool, factory: Factory) -> None:
    scene = await build_scene(factory)
    this_month = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).date().replace(day=1)
    last_month = period_start(previous_period(this_month.strftime("%Y-%m")))
    for employee in (scene.me, scene.colleague):
        for day in (2, 3):
            await scene.pending(employee, last_month.replace(day=day))
        await scene.pending(employee, date(this_month.year, this_month.month, 1))
    summary = await close_demo_months(pool, scene.fleet.id)
    assert summary is not None
    assert "voided and reissued" in summary
    counts = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'void') AS void,"
        " count(*) FILTER (WHERE status = 'finalized') AS finalized,"
        " count(*) FILTER (WHERE status = 'draft') AS drafts,"
        " count(*) FILTER (WHERE handed_over_at IS NOT NULL) AS handed"
        " FROM statements WHERE fleet_id = $1",
        scene.fleet.id,
    )
    assert dict(counts or {}) == {"void": 1, "finalized": 2, "drafts": 1, "handed": 2}
    assert await pool.fetchval("SELECT count(*) FROM payroll_exports") == 1
    assert await pool.fetchval("SELECT count(*) FROM credit_notes") == 1
    pdfs = await pool.fetchrow(
        "SELECT count(statement_id) AS statements, count(credit_note_id) AS notes"
        " FROM document_pdfs"
    )
    assert dict(pdfs or {}) == {"statements": 3, "notes": 1}  # the void one kept its PDF
    assert await close_demo_months(pool, scene.fleet.id) is None  # once
