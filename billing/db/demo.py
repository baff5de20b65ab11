"""What `billing demo` reads to seed itself and to say what it did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries

_q = queries("demo")


@dataclass(frozen=True, slots=True)
class PendingCharge:
    id: UUID
    vehicle_id: UUID
    version: int
    charge_date: date
    smartcar_vehicle_id: str


@dataclass(frozen=True, slots=True)
class Totals:
    vehicles_by_state: list[tuple[str, int]]
    pending: int
    adjustments: int
    pending_amount: Decimal
    unpriced_days: int


async def fleet_named(conn: Connection, name: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(_q.fleet_named, name)
    return found


async def first_employee(conn: Connection, fleet_id: UUID) -> UUID | None:
    found: UUID | None = await conn.fetchval(_q.first_employee, fleet_id)
    return found


async def employees_of_fleet_named(conn: Connection, name: str) -> list[UUID]:
    return [row["id"] for row in await conn.fetch(_q.employees_of_fleet_named, name)]


async def has_adjustments(conn: Connection) -> bool:
    found: bool = await conn.fetchval(_q.has_adjustments)
    return found


async def recent_pending_charges(conn: Connection, since: date) -> list[PendingCharge]:
    rows = await conn.fetch(_q.recent_pending_charges, since)
    return [PendingCharge(**dict(row)) for row in rows]


async def totals(conn: Connection) -> Totals:
    states = await conn.fetch(_q.demo_vehicles_by_state)
    lines = await conn.fetchrow(_q.line_totals)
    assert lines is not None
    return Totals(
        vehicles_by_state=[(row["sync_state"], row["n"]) for row in states],
        pending=lines["pending"],
        adjustments=lines["adjustments"],
        pending_amount=lines["pending_amount"],
        unpriced_days=await conn.fetchval(_q.demo_unpriced_days),
    )
