"""Accepting or refusing a reassignment Connect asked for: a manager's decision, audited.

The rules of money apply (`billing.services.money`): a key bound to either employee does not
decide it, since moving a car moves whose money its future days are.
"""

from __future__ import annotations

from uuid import UUID

from billing.db import audit, duties, reassignments
from billing.db.pool import Connection
from billing.domain.access import Principal
from billing.domain.errors import Conflict, Forbidden
from billing.domain.models import Reassignment


async def _decidable(conn: Connection, who: Principal, reassignment_id: UUID) -> Reassignment:
    item = await reassignments.lock(conn, reassignment_id)
    who.check_manages(item.fleet_id, what="reassignment")
    own = await duties.own_of(conn, who)
    if own.holds(item.employee_id) or own.holds(item.current_employee_id):
        raise Forbidden(
            "this reassignment moves the money of the employee this key is bound to (or of "
            "records that employee's keys created); another manager decides it"
        )
    if item.status != "pending":
        raise Conflict(f"the reassignment is already {item.status}")
    return item


async def accept(conn: Connection, who: Principal, reassignment_id: UUID) -> Reassignment:
    before = await _decidable(conn, who, reassignment_id)
    moved = await reassignments.move(conn, before)
    after = await reassignments.decide(conn, before.id, "accepted", who.actor)
    await audit.record(
        conn,
        actor=who.actor,
        fleet_id=after.fleet_id,
        entity="connection" if after.connection_id is not None else "vehicle",
        entity_id=after.connection_id or after.vehicle_id or after.id,
        action="reassign",
        before={"employee_id": str(before.current_employee_id)},
        after={
            "employee_id": str(after.employee_id),
            "reassignment_id": str(after.id),
            "vehicles": [str(v) for v in moved],
        },
    )
    return after


async def refuse(conn: Connection, who: Principal, reassignment_id: UUID) -> Reassignment:
    before = await _decidable(conn, who, reassignment_id)
    after = await reassignments.decide(conn, before.id, "refused", who.actor)
    await audit.record(
        conn,
        actor=who.actor,
        fleet_id=after.fleet_id,
        entity="connection" if after.connection_id is not None else "vehicle",
        entity_id=after.connection_id or after.vehicle_id or after.id,
        action="reassignment_refused",
        after={"reassignment_id": str(after.id), "employee_id": str(after.employee_id)},
    )
    return after
