"""Read models for the web pages: what a person reviews, joined and named, never raw ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.line_items import LineItemKind, LineItemStatus, in_minor_units

_q = queries("views")

QueueSort = Literal["charge_date", "amount", "employee"]


@dataclass(frozen=True, slots=True)
class QueueFilter:
    fleet_id: UUID | None
    employee_id: UUID | None = None
    status: LineItemStatus | None = None
    period: str | None = None
    kind: LineItemKind | None = None
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: UUID
    employee_id: UUID
    employee_name: str
    vehicle_name: str
    charge_date: date
    period: str
    kind: LineItemKind
    adjusts_id: UUID | None
    kwh: Decimal
    unit_price: Decimal
    currency: str
    amount: Decimal
    status: LineItemStatus
    version: int
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    statement_id: UUID | None
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MonthTotal:
    period: str
    currency: str
    status: LineItemStatus
    kwh: Decimal
    amount: Decimal
    lines: int


def _args(f: QueueFilter) -> tuple[object, ...]:
    return (f.fleet_id, f.employee_id, f.status, f.period, f.kind, f.flag)


async def queue(
    conn: Connection,
    f: QueueFilter,
    *,
    sort: QueueSort,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[QueueRow], int]:
    rows = await conn.fetch(_q.queue, *_args(f), sort, descending, limit, offset)
    total: int = await conn.fetchval(_q.queue_count, *_args(f))
    items = [
        QueueRow(
            id=r["id"],
            employee_id=r["employee_id"],
            employee_name=r["employee_name"],
            vehicle_name=r["vehicle_name"],
            charge_date=r["charge_date"],
            period=r["period"],
            kind=r["kind"],
            adjusts_id=r["adjusts_id"],
            kwh=r["kwh"],
            unit_price=r["unit_price"],
            currency=r["currency"],
            amount=in_minor_units(r["amount"], r["currency"]),
            status=r["status"],
            version=r["version"],
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
            reason=r["reason"],
            statement_id=r["statement_id"],
            flags=tuple(r["flags"] or ()),
        )
        for r in rows
    ]
    return items, total


async def monthly_totals(
    conn: Connection, *, fleet_id: UUID | None, employee_id: UUID | None
) -> list[MonthTotal]:
    rows = await conn.fetch(_q.monthly_totals, fleet_id, employee_id)
    return [
        MonthTotal(
            period=r["period"],
            currency=r["currency"],
            status=r["status"],
            kwh=r["kwh"],
            amount=in_minor_units(r["amount"], r["currency"]),
            lines=r["lines"],
        )
        for r in rows
    ]


async def employee_names(
    conn: Connection, *, fleet_id: UUID | None, employee_id: UUID | None
) -> list[tuple[UUID, str]]:
    rows = await conn.fetch(_q.employee_names, fleet_id, employee_id)
    return [(r["id"], r["name"]) for r in rows]
