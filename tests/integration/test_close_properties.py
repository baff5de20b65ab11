"""Property: over random histories of approvals, restatement adjustments, drafts,
finalizations, voids, exports, PDFs and credit notes, on real PostgreSQL,

- once its month is closed, every approved line is on exactly one live statement;
- Σ live statements = Σ approved lines, and Σ statements + Σ credit notes (negative)
  = Σ approved lines - Σ credited amounts;
- nothing finalized changes: a statement's content, its lines, stored PDF and export bytes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.db.pool import Pool
from billing.domain.errors import Conflict, InvalidData
from billing.domain.line_items import ChargeRecord, LineItem
from billing.domain.models import Employee, Fleet, Tariff
from billing.domain.statements import CreditRequest
from billing.services import credit_notes, exports, pdfs, statements
from tests.close_scene import ADMIN, NOW, approve
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory, VehicleRow

PERIODS = ("2025-01", "2025-02", "2025-03")
AFTER_ALL = "2025-04"

Op = tuple[str, int, int]
_small = st.integers(0, 2)
_which = st.integers(0, 7)
line_ops = st.lists(
    st.tuples(st.sampled_from(["approve", "approve", "pending", "adjust"]), _small, _which),
    min_size=1,
    max_size=5,
)
document_ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["void", "export", "export", "credit", "credit", "pdf", "draft", "finalize"]
        ),
        _small,
        _which,
    ),
    max_size=4,
)
# A round: new lines, perhaps a month closed, then things done with the documents.
rounds = st.lists(
    st.tuples(line_ops, st.one_of(st.none(), _small), document_ops), min_size=2, max_size=4
)


@dataclass
class World:
    pool: Pool
    fleet: Fleet
    tariff: Tariff
    employees: list[Employee]
    vehicles: list[VehicleRow]
    items: LineItemFactory
    days: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    approved: list[LineItem] = field(default_factory=list)
    frozen: dict[UUID, tuple[Any, ...]] = field(default_factory=dict)
    files: dict[UUID, bytes] = field(default_factory=dict)

    async def line(self, who: int, period_index: int, kwh: int, approved: bool) -> None:
        n = next(self.days)
        year, month = PERIODS[period_index].split("-")
        day = date(int(year), int(month), 1 + n % 28)
        vehicle = self.vehicles[who % len(self.vehicles)]
        record = await self.items.charge_record(vehicle, day, home_kwh=f"{kwh + 1}.5")
        line = await self.items.line_item(record, self.tariff)
        if approved:
            self.approved += await approve(self.pool, line)

    async def adjust(self, which: int, delta: int) -> None:
        charges = [line for line in self.approved if line.kind == "charge"]
        if not charges:
            return
        original = charges[which % len(charges)]
        record = await self.pool.fetchrow(
            "SELECT * FROM charge_records WHERE id = $1", original.charge_record_id
        )
        assert record is not None
        adjustment = await self.items.line_item(
            ChargeRecord.model_validate(dict(record)),
            self.tariff,
            kwh=str(-Decimal(delta % 3 + 1) / 2),
            adjusts=original,
        )
        self.approved += await approve(self.pool, adjustment)


async def _snapshot_state(world: World) -> None:
    """Freeze what is finalized now, and check nothing frozen before has changed."""
    rows = await world.pool.fetch(
        "SELECT id, status, number, total, kwh, line_ids, snapshot, snapshot_sha256,"
        " finalized_at FROM statements WHERE fleet_id = $1 AND status <> 'draft'",
        world.fleet.id,
    )
    for row in rows:
        content = (
            row["number"],
            row["total"],
            row["kwh"],
            tuple(row["line_ids"]),
            row["snapshot"],
            row["snapshot_sha256"],
            row["finalized_at"],
        )
        assert world.frozen.setdefault(row["id"], content) == content
        if row["status"] == "finalized":
            lines = await world.pool.fetch(
                "SELECT id, amount, kwh, statement_id, version FROM line_items"
                " WHERE id = ANY($1) ORDER BY id",
                row["line_ids"],
            )
            key = UUID(int=row["id"].int ^ 1)
            state = tuple(tuple(line) for line in lines)
            assert all(line["statement_id"] == row["id"] for line in lines)
            assert world.frozen.setdefault(key, state) == state
    stored = [
        *await world.pool.fetch("SELECT id, content FROM document_pdfs"),
        *await world.pool.fetch("SELECT id, content FROM payroll_exports"),
    ]
    for file in stored:
        stored_bytes = bytes(file["content"])
        assert world.files.setdefault(file["id"], stored_bytes) == stored_bytes


async def _step(world: World, op: Op) -> None:
    kind, a, b = op
    pool, fleet = world.pool, world.fleet
    live = await pool.fetch(
        "SELECT id, status, handed_over_at FROM statements WHERE fleet_id = $1"
        " AND status = 'finalized' ORDER BY number",
        fleet.id,
    )
    open_ = [row for row in live if row["handed_over_at"] is None]
    handed = [row for row in live if row["handed_over_at"] is not None]
    try:
        if kind in ("approve", "pending"):
            await world.line(a, b % len(PERIODS), b, approved=kind == "approve")
        elif kind == "adjust":
            await world.adjust(b, a)
        elif kind == "draft":
            await statements.refresh_drafts(pool, ADMIN, fleet_id=fleet.id, period=PERIODS[a])
        elif kind == "close":
            await statements.refresh_drafts(pool, ADMIN, fleet_id=fleet.id, period=PERIODS[a])
            await statements.finalize_period(
                pool, ADMIN, fleet_id=fleet.id, period=PERIODS[a], now=NOW
            )
        elif kind == "finalize":
            await statements.finalize_period(
                pool, ADMIN, fleet_id=fleet.id, period=PERIODS[a], now=NOW
            )
        elif kind == "void" and open_:
            target = open_[b % len(open_)]
            await statements.void_statement(pool, ADMIN, target["id"], reason="property")
        elif kind == "export":
            await exports.create_export(pool, ADMIN, fleet_id=fleet.id, format="csv", now=NOW)
        elif kind == "pdf" and live:
            await pdfs.statement_pdf(pool, ADMIN, live[b % len(live)]["id"])
        elif kind == "credit" and handed:
            target = handed[b % len(handed)]
            detail = await statements.get_statement(pool, ADMIN, target["id"])
            chosen = detail.lines[a % len(detail.lines)]
            amount = None if b % 2 else Decimal("0.01")
            await credit_notes.create_credit_note(
                pool,
                ADMIN,
                statement_id=target["id"],
                reason="property",
                lines=[CreditRequest(chosen.id, amount)],
                now=NOW,
            )
    except (Conflict, InvalidData):
        pass  # refused as the rules say; the checks below show nothing changed


async def _check_closed(world: World) -> None:
    pool, fleet = world.pool, world.fleet
    await statements.refresh_drafts(pool, ADMIN, fleet_id=fleet.id, period=AFTER_ALL)
    await statements.finalize_period(pool, ADMIN, fleet_id=fleet.id, period=AFTER_ALL, now=NOW)
    approved = await pool.fetch(
        "SELECT id, amount, statement_id FROM line_items WHERE fleet_id = $1"
        " AND status = 'approved'",
        fleet.id,
    )
    live = await pool.fetch(
        "SELECT id, total, line_ids FROM statements WHERE fleet_id = $1 AND status = 'finalized'",
        fleet.id,
    )
    holders: dict[UUID, list[UUID]] = {}
    for statement in live:
        for line_id in statement["line_ids"]:
            holders.setdefault(line_id, []).append(statement["id"])
    for line in approved:
        assert holders.get(line["id"]) == [line["statement_id"]], line["id"]
    assert set(holders) == {line["id"] for line in approved}
    lines_total = sum((line["amount"] for line in approved), Decimal(0))
    statements_total = sum((s["total"] for s in live), Decimal(0))
    notes_total = await pool.fetchval(
        "SELECT coalesce(sum(total), 0) FROM credit_notes WHERE fleet_id = $1", fleet.id
    )
    credited = await pool.fetchval(
        "SELECT coalesce(sum(cl.amount), 0) FROM credit_note_lines cl"
        " JOIN credit_notes c ON c.id = cl.credit_note_id WHERE c.fleet_id = $1",
        fleet.id,
    )
    assert statements_total == lines_total
    assert statements_total + notes_total == lines_total - credited


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=rounds)
async def test_close_keeps_every_line_once_and_nothing_finalized_changes(
    factory: Factory, history: list[tuple[list[Op], int | None, list[Op]]]
) -> None:
    fleet = await factory.fleet()
    tariff = await factory.tariff(fleet, "0.33")
    items = LineItemFactory(factory.pool)
    employees = [await factory.employee(fleet) for _ in range(2)]
    vehicles = [await items.vehicle(e) for e in employees]
    world = World(factory.pool, fleet, tariff, employees, vehicles, items)
    for lines, closing, actions in history:
        closes: list[Op] = [] if closing is None else [("close", closing, 0)]
        for op in (*lines, *closes, *actions):
            await _step(world, op)
            await _snapshot_state(world)
    await _check_closed(world)
    await _snapshot_state(world)
