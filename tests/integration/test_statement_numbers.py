"""Gapless numbers: concurrent finalizations, and a finalization that fails half-way."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from billing.db.pool import Pool
from billing.domain.models import Employee
from billing.services import snapshots, statements
from tests.close_scene import ADMIN, MARCH, NOW, approve
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory


async def _drafts(factory: Factory, count: int) -> tuple[Any, list[Employee]]:
    fleet = await factory.fleet()
    tariff = await factory.tariff(fleet, "0.30")
    items = LineItemFactory(factory.pool)
    employees = [await factory.employee(fleet) for _ in range(count)]
    for employee in employees:
        vehicle = await items.vehicle(employee)
        line = await items.priced_day(vehicle, tariff, date(2025, 3, 4))
        await approve(factory.pool, line)
    await statements.refresh_drafts(factory.pool, ADMIN, fleet_id=fleet.id, period=MARCH)
    return fleet, employees


async def _draft_ids(pool: Pool, fleet_id: Any) -> list[Any]:
    rows = await pool.fetch(
        "SELECT id FROM statements WHERE fleet_id = $1 AND status = 'draft' ORDER BY id", fleet_id
    )
    return [row["id"] for row in rows]


async def test_twenty_concurrent_finalizations_get_twenty_numbers_without_gap(
    pool: Pool, factory: Factory
) -> None:
    fleet, _ = await _drafts(factory, 20)
    ids = await _draft_ids(pool, fleet.id)
    done = await asyncio.gather(
        *(statements.finalize_statement(pool, ADMIN, i, now=NOW) for i in ids)
    )
    numbers = sorted(s.number or "" for s in done)
    assert numbers == [f"S-2025-{n:05d}" for n in range(1, 21)]


async def test_a_failed_finalization_leaves_no_gap(
    pool: Pool, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, _ = await _drafts(factory, 3)
    first, second, third = await _draft_ids(pool, fleet.id)
    await statements.finalize_statement(pool, ADMIN, first, now=NOW)
    real = snapshots.frozen

    def broken(doc: Any) -> tuple[str, str]:
        raise RuntimeError("forced failure after the number was taken")

    monkeypatch.setattr(statements, "frozen", broken)
    with pytest.raises(RuntimeError):
        await statements.finalize_statement(pool, ADMIN, second, now=NOW)
    monkeypatch.setattr(statements, "frozen", real)
    after = await statements.finalize_statement(pool, ADMIN, third, now=NOW)
    assert after.number == "S-2025-00002"
    retried = await statements.finalize_statement(pool, ADMIN, second, now=NOW)
    assert retried.number == "S-2025-00003"
    status = await pool.fetchval("SELECT count(*) FROM statements WHERE status = 'draft'")
    assert status == 0
