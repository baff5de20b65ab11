"""Deciding a vehicle reassignment: a manager of the fleet moves the car, or refuses.

Segregation of duties: a manager key bound to either employee of the move cannot decide it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from billing.db import audit, reassignments
from billing.db.pool import Pool, connection, transaction
from billing.db.reassignments import Reassignment, ReassignmentStatus, ReassignmentView
from billing.domain.access import Principal
from billing.domain.errors import Conflict


async def list_reassignments(
    pool: Pool, who: Principal, *, fleet_id: UUID | None, status: ReassignmentStatus | None
) -> list[ReassignmentView]:
    if who.role == "employee":
        return []
    async with connection(pool) as conn:
        return await reassignments.list_reassignments(
            conn, fleet_id=who.scope_fleet(fleet_id), status=status, limit=500
        )


async def decide_reassignment(
    pool: Pool,
    who: Principal,
    reassignment_id: UUID,
    decision: Literal["accepted", "refused"],
    *,
    now: datetime,
    reason: str | None = None,
) -> Reassignment:
    async with transaction(pool) as conn:
        current = await reassignments.lock_reassignment(conn, reassignment_id)
        who.check_manages(current.fleet_id, current.from_employee_id, what="reassignment")
        who.check_manages(current.fleet_id, current.to_employee_id, what="reassignment")
        if current.status != "pending":
            raise Conflict(f"this reassignment was already {current.status}")
        decided = await reassignments.decide(
            conn, current, status=decision, actor=who.actor, now=now, reason=reason
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=current.fleet_id,
            entity="vehicle",
            entity_id=current.vehicle_id,
            action="reassigned" if decision == "accepted" else "reassignment_refused",
            before={"employee_id": str(current.from_employee_id)},
            after={
                "reassignment_id": str(current.id),
                "employee_id": str(
                    current.to_employee_id if decision == "accepted" else current.from_employee_id
                ),
                "reason": reason,
            },
        )
    return decided
