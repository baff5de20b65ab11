"""Statements: drafts, finalization, voids, and the lines they hold."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from billing.db.pages import After
from billing.db.pool import Connection, Pool, connection
from billing.db.queries import queries
from billing.domain.errors import Conflict, NotFound
from billing.domain.line_items import in_minor_units
from billing.domain.models import Employee, Fleet
from billing.domain.statement_models import PricedLine, StatementRow
from billing.domain.statements import ClosingLine, Series, StatementStatus

_q = queries("statements")


def statement_from_row(row: asyncpg.Record) -> StatementRow:
    data = dict(row)
    currency = data["currency"]
    data["total"] = in_minor_units(data["total"], currency)
    data["credited"] = in_minor_units(data.get("credited") or Decimal(0), currency)
    return StatementRow.model_validate(data)


def priced_line_from_row(row: asyncpg.Record) -> PricedLine:
    """A line from its row, unvalidated: the database's constraints already hold for it, and a
    month-end reads hundreds of thousands of them."""
    data = dict(row)
    data["amount"] = in_minor_units(data["amount"], data["currency"])
    return PricedLine.model_construct(**{name: data[name] for name in PricedLine.model_fields})


async def lock_close(conn: Connection, fleet_id: UUID, period: str) -> None:
    await conn.execute(_q.lock_close, fleet_id, period)


@asynccontextmanager
async def month_end_lock(pool: Pool) -> AsyncIterator[bool]:
    """A session advisory lock held for the whole job: True for the one worker that got it."""
    async with connection(pool) as conn:
        got = bool(await conn.fetchval(_q.try_month_end_session_lock))
        try:
            yield got
        finally:
            if got:
                await conn.fetchval(_q.month_end_session_unlock)


async def finalized_without_pdf(conn: Connection, fleet_id: UUID, period: str) -> list[UUID]:
    return [row["id"] for row in await conn.fetch(_q.finalized_without_pdf, fleet_id, period)]


async def take_number(conn: Connection, fleet_id: UUID, year: int, series: Series) -> int:
    """The next number of the series; the counter row stays locked until commit."""
    number = await conn.fetchval(_q.take_number, fleet_id, year, series)
    assert isinstance(number, int)
    return number


async def open_lines(
    conn: Connection,
    fleet_id: UUID,
    period: str,
    employee_id: UUID | None = None,
    *,
    lock: bool,
) -> list[PricedLine]:
    query = _q.open_lines if lock else _q.open_lines_unlocked
    rows = await conn.fetch(query, fleet_id, employee_id, period)
    return [priced_line_from_row(row) for row in rows]


async def closing_lines(
    conn: Connection, fleet_id: UUID, period: str, employee_id: UUID | None = None
) -> list[ClosingLine]:
    """The open lines as finalization reads them (`open_lines`, as plain values)."""
    rows = await conn.fetch(_q.closing_lines, fleet_id, employee_id, period)
    return [ClosingLine(*row) for row in rows]


async def lines_by_id(conn: Connection, ids: Sequence[UUID]) -> list[PricedLine]:
    rows = await conn.fetch(_q.lines_by_id, list(ids))
    return [priced_line_from_row(row) for row in rows]


async def statements_of_period(
    conn: Connection, fleet_id: UUID, period: str, employee_id: UUID | None
) -> list[StatementRow]:
    rows = await conn.fetch(_q.statements_of_period, fleet_id, period, employee_id)
    return [statement_from_row(row) for row in rows]


async def insert_draft(
    conn: Connection,
    *,
    fleet_id: UUID,
    employee_id: UUID,
    period: str,
    currency: str,
    total: Decimal,
    kwh: Decimal,
    line_ids: list[UUID],
) -> StatementRow:
    row = await conn.fetchrow(
        _q.insert_draft,
        fleet_id,
        employee_id,
        period,
        currency,
        total,
        kwh,
        len(line_ids),
        line_ids,
    )
    assert row is not None
    return statement_from_row(row)


async def update_draft(
    conn: Connection, statement_id: UUID, *, total: Decimal, kwh: Decimal, line_ids: list[UUID]
) -> StatementRow:
    row = await conn.fetchrow(_q.update_draft, statement_id, total, kwh, len(line_ids), line_ids)
    if row is None:
        raise Conflict("the statement is no longer a draft")
    return statement_from_row(row)


async def delete_draft(conn: Connection, statement_id: UUID) -> None:
    await conn.execute(_q.delete_draft, statement_id)


async def get_statement(
    conn: Connection, statement_id: UUID, *, for_update: bool = False
) -> StatementRow:
    row = await conn.fetchrow(_q.lock_statement if for_update else _q.get_statement, statement_id)
    if row is None:
        raise NotFound("no such statement")
    return statement_from_row(row)


async def drafts_of_period(conn: Connection, fleet_id: UUID, period: str) -> list[StatementRow]:
    """Locked, in id order."""
    rows = await conn.fetch(_q.drafts_of_period_locked, fleet_id, period)
    return [statement_from_row(row) for row in rows]


async def list_statements(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    period: str | None,
    status: StatementStatus | None,
    issued_only: bool,
    after: After,
    limit: int,
) -> list[StatementRow]:
    rows = await conn.fetch(
        _q.list_statements,
        fleet_id,
        employee_id,
        period,
        status,
        issued_only,
        after.created_at,
        after.id,
        limit,
    )
    return [statement_from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Finalized:
    """One draft as it is frozen."""

    statement_id: UUID
    number: str
    total: Decimal
    kwh: Decimal
    line_ids: list[UUID]
    snapshot: str
    sha256: str


async def take_numbers(
    conn: Connection, fleet_id: UUID, year: int, series: Series, count: int
) -> range:
    """`count` consecutive numbers of the series; the counter row stays locked until commit."""
    last = await conn.fetchval(_q.take_numbers, fleet_id, year, series, count)
    assert isinstance(last, int)
    return range(last - count + 1, last + 1)


async def finalize_many(
    conn: Connection, items: Sequence[Finalized], *, at: datetime, actor: str
) -> list[StatementRow]:
    """Freeze the drafts and link their lines in three statements, whatever their number.
    From here on the database refuses any edit of them."""
    pairs = [(line_id, item.statement_id) for item in items for line_id in item.line_ids]
    rows = await conn.fetch(
        _q.finalize_many,
        [i.statement_id for i in items],
        [i.number for i in items],
        [i.total for i in items],
        [i.kwh for i in items],
        [i.snapshot for i in items],
        [i.sha256 for i in items],
        [len(i.line_ids) for i in items],
        at,
        actor,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    if len(rows) != len(items):
        raise Conflict("a statement is no longer a draft; nothing was finalized")
    linked = await conn.execute(_q.link_many, [p[0] for p in pairs], [p[1] for p in pairs])
    if linked != f"UPDATE {len(pairs)}":
        raise Conflict("a line of the statements changed meanwhile; nothing was finalized")
    by_id = {row["id"]: statement_from_row(row) for row in rows}
    return [by_id[i.statement_id] for i in items]


async def audit_many(
    conn: Connection,
    *,
    actor: str,
    fleet_id: UUID,
    entity: str,
    action: str,
    after: Sequence[tuple[UUID, str]],
) -> None:
    """One audit event per (id, JSON of the object after the change), in one statement."""
    await conn.execute(
        _q.audit_many, actor, fleet_id, entity, action, [a[0] for a in after], [a[1] for a in after]
    )


async def void(conn: Connection, statement_id: UUID, *, actor: str, reason: str) -> StatementRow:
    """Void (the number stays used) and release the lines for the next draft."""
    row = await conn.fetchrow(_q.void_statement, statement_id, actor, reason)
    if row is None:
        raise Conflict("only a finalized statement not yet handed over can be voided")
    await conn.execute(_q.release_lines, statement_id)
    return statement_from_row(row)


async def get_snapshot(conn: Connection, statement_id: UUID) -> str | None:
    value = await conn.fetchval(_q.get_snapshot, statement_id)
    return value if isinstance(value, str) else None


async def employees_by_id(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, Employee]:
    rows = await conn.fetch(_q.employees_by_id, list(ids))
    return {row["id"]: Employee.model_validate(dict(row)) for row in rows}


async def fleets_with_open_lines(conn: Connection) -> list[Fleet]:
    return [Fleet.model_validate(dict(row)) for row in await conn.fetch(_q.fleets_due_for_close)]


async def pending_of_period(conn: Connection, fleet_id: UUID, period: str) -> list[PricedLine]:
    rows = await conn.fetch(_q.pending_of_period, fleet_id, period)
    return [PricedLine.model_validate({**dict(row), "tariff_source": None}) for row in rows]
