"""Statements through the services: drafts, finalization, voids and the database's guard."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from billing.db.pages import After
from billing.db.pool import Pool
from billing.domain.errors import Conflict
from billing.services import statements
from tests.close_scene import ADMIN, MARCH, NOW, approve, approved_days
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def test_draft_collects_approved_lines_and_lists_pending(pool: Pool, scene: Scene) -> None:
    await approved_days(scene, scene.me.id, [1, 2])
    pending = await scene.pending(scene.me, date(2025, 3, 3))
    await scene.pending(scene.me, date(2025, 4, 1))  # a later month stays out
    counts = await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    assert (counts.created, counts.refreshed, counts.unchanged) == (1, 0, 0)
    page = await statements.list_statements(
        pool,
        ADMIN,
        fleet_id=scene.fleet.id,
        employee_id=None,
        period=MARCH,
        status=None,
        after=After(),
        limit=10,
    )
    assert [(s.status, s.number) for s in page] == [("draft", None)]
    detail = await statements.get_statement(pool, ADMIN, page[0].id)
    assert (detail.line_count, detail.total) == (2, Decimal("6.30"))
    assert [line.id for line in detail.pending_not_included or []] == [pending.id]
    again = await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    assert (again.created, again.refreshed, again.unchanged) == (0, 0, 1)
    await approve(pool, pending)
    third = await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    assert (third.created, third.refreshed, third.unchanged) == (0, 1, 0)


async def test_finalize_numbers_freezes_and_links(pool: Pool, scene: Scene) -> None:
    lines = await approved_days(scene, scene.me.id, [1, 2])
    await approved_days(scene, scene.colleague.id, [5])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    done = await statements.finalize_period(
        pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW
    )
    assert sorted(s.number or "" for s in done) == ["S-2025-00001", "S-2025-00002"]
    assert all(s.status == "finalized" and s.snapshot_sha256 for s in done)
    linked = await pool.fetch(
        "SELECT statement_id FROM line_items WHERE id = ANY($1)", [line.id for line in lines]
    )
    mine = next(s for s in done if s.employee_id == scene.me.id)
    assert {row["statement_id"] for row in linked} == {mine.id}
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE statements SET total = 0 WHERE id = $1", mine.id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("DELETE FROM statements WHERE id = $1", mine.id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "UPDATE line_items SET reason = 'x', version = version + 1 WHERE id = $1", lines[0].id
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("DELETE FROM line_items WHERE id = $1", lines[0].id)
    # a late line of March lands on the next month's statement, marked prior-period
    late = await approved_days(scene, scene.me.id, [20])
    counts = await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    assert (counts.created, counts.refreshed) == (0, 0)
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period="2025-04")
    april = await statements.list_statements(
        pool,
        ADMIN,
        fleet_id=scene.fleet.id,
        employee_id=scene.me.id,
        period="2025-04",
        status="draft",
        after=After(),
        limit=10,
    )
    detail = await statements.get_statement(pool, ADMIN, april[0].id)
    assert [(line.id, line.prior_period) for line in detail.lines] == [(late[0].id, True)]


async def test_void_releases_lines_and_keeps_the_number(pool: Pool, scene: Scene) -> None:
    await approved_days(scene, scene.me.id, [1])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    (first,) = await statements.finalize_period(
        pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW
    )
    voided = await statements.void_statement(pool, ADMIN, first.id, reason="wrong tariff")
    assert (voided.status, voided.number) == ("void", "S-2025-00001")
    with pytest.raises(Conflict):
        await statements.void_statement(pool, ADMIN, first.id, reason="again")
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    (second,) = await statements.finalize_period(
        pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW
    )
    assert (second.number, second.total) == ("S-2025-00002", first.total)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE statements SET void_reason = 'x' WHERE id = $1", first.id)


async def test_the_database_links_a_line_only_to_a_finalized_statement_listing_it(
    pool: Pool, scene: Scene
) -> None:
    (mine,) = await approved_days(scene, scene.me.id, [1])
    (theirs,) = await approved_days(scene, scene.colleague.id, [2])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    draft = await pool.fetchval("SELECT id FROM statements WHERE employee_id = $1", scene.me.id)
    link = "UPDATE line_items SET statement_id = $1, version = version + 1 WHERE id = $2"
    with pytest.raises(asyncpg.CheckViolationError, match="does not belong"):
        await pool.execute(link, draft, mine.id)  # a draft holds no lines
    await statements.finalize_statement(pool, ADMIN, draft, now=NOW)
    with pytest.raises(asyncpg.CheckViolationError, match="does not belong"):
        await pool.execute(link, draft, theirs.id)  # not its employee, not listed


async def test_a_draft_is_never_voided_nor_a_finalized_statement_sent_back(
    pool: Pool, scene: Scene
) -> None:
    await approved_days(scene, scene.me.id, [1, 2])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    draft_id = await pool.fetchval(
        "SELECT id FROM statements WHERE fleet_id = $1 AND status = 'draft'", scene.fleet.id
    )
    with pytest.raises(asyncpg.CheckViolationError, match="a draft is not voided"):
        await pool.execute(
            "UPDATE statements SET status = 'void', voided_at = now(), void_reason = 'x'"
            " WHERE id = $1",
            draft_id,
        )
    await pool.execute("UPDATE statements SET updated_at = now() WHERE id = $1", draft_id)
    await statements.finalize_period(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW)
    with pytest.raises(asyncpg.CheckViolationError, match="its content cannot change"):
        await pool.execute(
            "UPDATE statements SET status = 'draft', number = NULL, finalized_at = NULL,"
            " finalized_by = NULL, snapshot = NULL, snapshot_sha256 = NULL WHERE id = $1",
            draft_id,
        )
    with pytest.raises(asyncpg.CheckViolationError, match="cannot return to draft"):
        await pool.execute("UPDATE statements SET status = 'draft' WHERE id = $1", draft_id)
