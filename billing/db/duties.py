"""What counts as a person's own money when deciding: see `billing.domain.access.Own`."""

from __future__ import annotations

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
