"""What counts as a person's own money when deciding: see `billing.domain.access.Own`."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.access import Own, Principal

_q = queries("duties")


async def own_of(conn: Connection, who: Principal) -> Own:
    """The records whose money is the key's bound employee's own; nothing for unbound keys."""
    if who.employee_id is None:
        return Own()
    employees: set[UUID] = {who.employee_id}
    vehicles: set[UUID] = set()
    for row in await conn.fetch(_q.made_by_person, who.employee_id):
        (employees if row["entity"] == "employee" else vehicles).add(row["entity_id"])
    return Own(frozenset(employees), frozenset(vehicles))


async def prices_own_days(
    conn: Connection, own: Own, fleet_id: UUID, valid_from: date, valid_to: date | None
) -> bool:
    """Whether a fleet tariff over the range would price unpriced days of `own`."""
    if not own.employees and not own.vehicles:
        return False
    found: bool = await conn.fetchval(
        _q.own_unpriced, fleet_id, list(own.employees), list(own.vehicles), valid_from, valid_to
    )
    return found


async def vehicles_of_records(conn: Connection, record_ids: list[UUID]) -> set[UUID]:
    """The cars whose charge records these are."""
    rows = await conn.fetch(_q.vehicles_of_records, record_ids)
    return {row["vehicle_id"] for row in rows}
