"""Inviting an employee: a manager issues the employee's own sign-in key."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from billing.db import apikeys, audit, master
from billing.db.pool import Pool, transaction
from billing.domain.access import Principal


async def invite_employee(pool: Pool, who: Principal, employee_id: UUID, *, now: datetime) -> str:
    """A new employee-role key bound to the employee, returned once, with its audit event."""
    async with transaction(pool) as conn:
        employee = await master.get_employee(conn, employee_id)
        who.check_manages(employee.fleet_id, employee.id, what="employee")
        issued = await apikeys.issue_key(
            conn,
            role="employee",
            fleet_id=employee.fleet_id,
            employee_id=employee.id,
            name=f"invitation for {employee.name}"[:200],
            expires_at=None,
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=employee.fleet_id,
            entity="api_key",
            entity_id=issued.id,
            action="created",
            after={
                "prefix": issued.key.prefix,
                "role": "employee",
                "employee_id": employee.id,
                "at": now,
            },
        )
    return issued.key.key
