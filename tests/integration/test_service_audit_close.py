"""The month-end services through their functions on a real database: drafting, finalizing,
voiding, payroll exports, credit notes and the close each write exactly one audit event per
document changed; rendering a PDF of a frozen document changes nothing to audit."""

from __future__ import annotations

from uuid import UUID

import pytest

from billing.db.pages import After
from billing.domain.access import Principal
from billing.domain.statements import CreditRequest
from billing.services import credit_notes, exports, month_end, pdfs, statements
from tests.audit_log import AuditLog, principal
from tests.close_scene import MARCH, NOW, approved_days
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

APRIL = "2025-04"


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def _drafts(scene: Scene, who: Principal, period: str) -> dict[UUID, UUID]:
    """The statement id of each employee's draft of the period."""
    found = await statements.list_statements(
        scene.items.pool,
        who,
        fleet_id=scene.fleet.id,
        employee_id=None,
        period=period,
        status=None,
        after=After(),
        limit=10,
    )
    return {s.employee_id: s.id for s in found}


async def test_statements_exports_and_credit_notes(scene: Scene) -> None:
    pool = scene.items.pool
    mine = await approved_days(scene, scene.me.id, [1, 2])
    await approved_days(scene, scene.colleague.id, [5])
    log = AuditLog(pool)
    await log.skip()
    manager = await principal(pool, scene.keys["manager"])
    hr = await principal(pool, scene.keys["hr"])

    await statements.refresh_drafts(pool, manager, fleet_id=scene.fleet.id, period=MARCH)
    drafts = await _drafts(scene, manager, MARCH)
    assert sorted(await log.new()) == sorted(
        ("statement", s, "created", manager.actor) for s in drafts.values()
    )
    mine_id, theirs_id = drafts[scene.me.id], drafts[scene.colleague.id]
    await statements.finalize_statement(pool, manager, theirs_id, now=NOW)
    assert await log.new() == [("statement", theirs_id, "finalized", manager.actor)]
    await statements.finalize_period(pool, manager, fleet_id=scene.fleet.id, period=MARCH, now=NOW)
    assert await log.new() == [("statement", mine_id, "finalized", manager.actor)]
    await statements.void_statement(pool, manager, theirs_id, reason="wrong car")
    assert await log.new() == [("statement", theirs_id, "voided", manager.actor)]

    await pdfs.statement_pdf(pool, hr, mine_id)  # stores the rendering of a frozen document
    assert await log.new() == []

    export = await exports.create_export(pool, hr, fleet_id=scene.fleet.id, format="csv", now=NOW)
    assert await log.new() == [
        ("payroll_export", export.id, "created", hr.actor),
        ("statement", mine_id, "handed_over", hr.actor),
    ]
    note = await credit_notes.create_credit_note(
        pool,
        manager,
        statement_id=mine_id,
        reason="a day charged twice",
        lines=[CreditRequest(mine[0].id)],
        now=NOW,
    )
    assert await log.new() == [("credit_note", note.id, "created", manager.actor)]
    await pdfs.credit_note_pdf(pool, hr, note.id)
    assert await log.new() == []
    second = await exports.create_export(pool, hr, fleet_id=scene.fleet.id, format="csv", now=NOW)
    assert await log.new() == [
        ("payroll_export", second.id, "created", hr.actor),
        ("credit_note", note.id, "handed_over", hr.actor),
    ]


async def test_the_month_end_close(scene: Scene) -> None:
    pool = scene.items.pool
    await approved_days(scene, scene.me.id, [3])
    log = AuditLog(pool)
    await log.skip()
    manager = await principal(pool, scene.keys["manager"])
    report = await month_end.close_period(
        pool, manager, fleet_id=scene.fleet.id, period=MARCH, finalize=True, now=NOW
    )
    assert (report.finalized, report.pdfs) == (1, 1)
    statement_id = (await _drafts(scene, manager, MARCH))[scene.me.id]
    assert await log.new() == [
        ("statement", statement_id, "created", manager.actor),
        ("statement", statement_id, "finalized", manager.actor),
    ]
    empty = await month_end.close_period(
        pool, manager, fleet_id=scene.fleet.id, period=APRIL, finalize=True, now=NOW
    )
    assert (empty.drafts.created, empty.finalized) == (0, 0)
    assert await log.new() == []
