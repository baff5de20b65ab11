"""Employees: managers of the fleet create and change them; a monthly cap is money."""

from __future__ import annotations

from uuid import UUID

from billing.db import audit, master
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.models import Employee, EmployeeCreate, EmployeeUpdate
from billing.services import money


async def create_employee(pool: Pool, who: Principal, body: EmployeeCreate) -> Employee:
    who.check_manages(body.fleet_id, what="fleet")
    async with transaction(pool) as conn:
        await master.get_fleet(conn, body.fleet_id)
        employee = await master.insert_employee(conn, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=employee.fleet_id,
            entity="employee",
            entity_id=employee.id,
            action="create",
            after=employee,
        )
    return employee


async def update_employee(
    pool: Pool, who: Principal, employee_id: UUID, body: EmployeeUpdate
) -> Employee:
    """Fields left out stay as they are; the monthly cap not by a key for whom it is its own."""
    async with transaction(pool) as conn:
        before = await master.get_employee(conn, employee_id, for_update=True)
        who.check_manages(before.fleet_id, before.id, what="employee")
        await money.check_may_update(conn, who, before, body)
        after = await master.update_employee(conn, before, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=after.fleet_id,
            entity="employee",
            entity_id=after.id,
            action="update",
            before=before,
            after=after,
        )
    return after


async def list_employees(
    pool: Pool, who: Principal, *, fleet_id: UUID | None, after: After, limit: int
) -> list[Employee]:
    scoped = who.scope_fleet(fleet_id)
    only = who.scope_employee(None)
    async with connection(pool) as conn:
        return await master.list_employees(
            conn, fleet_id=scoped, only=only, after=after, limit=limit
        )


async def get_employee(pool: Pool, who: Principal, employee_id: UUID) -> Employee:
    async with connection(pool) as conn:
        employee = await master.get_employee(conn, employee_id)
    who.check_sees(employee.fleet_id, employee.id, what="employee")
    return employee
