"""Finishing Smartcar Connect for an employee: what may be linked to whom.

A Connect link is bound to the browser that started it (checked by the route), and Connect
never moves anything that belongs to someone else: a Smartcar account already connected for
another employee is refused as a whole, and a vehicle registered for anyone else (in this
fleet or another) is left where it is. Both are said in plain words and audited; moving a car
between employees is a manager's decision, not a side effect of a link: for a colleague of the
same fleet a pending reassignment is offered (`billing.services.reassignments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from billing.crypto import TokenCipher
from billing.db import audit, connect, master, reassignments
from billing.db.connect import LinkedVehicle
from billing.db.pool import Connection
from billing.domain.models import Employee
from billing.smartcar.client import TokenGrant

ACCOUNT_TAKEN = "the Smartcar account is already connected for another employee"


@dataclass(frozen=True)
class ConnectResult:
    refused: str | None = None  # why nothing was linked, in plain words
    linked: list[LinkedVehicle] = field(default_factory=list)


async def complete_connect(
    conn: Connection,
    cipher: TokenCipher,
    *,
    employee: Employee,
    smartcar_user_id: str,
    grant: TokenGrant,
    vehicle_ids: list[str],
    now: datetime,
    actor: str,
) -> ConnectResult:
    existing = await connect.connection_for_user(conn, smartcar_user_id)
    if existing is not None and existing.employee_id != employee.id:
        await connect.record_refused(conn, employee=employee, reason=ACCOUNT_TAKEN, actor=actor)
        await _offer(
            conn, employee, existing.employee_id, actor, connection_id=existing.id, vehicle_id=None
        )
        return ConnectResult(refused=ACCOUNT_TAKEN)
    connection_id, action = await connect.store_tokens(
        conn,
        cipher,
        existing=existing,
        employee=employee,
        smartcar_user_id=smartcar_user_id,
        grant=grant,
    )
    linked = await connect.link_vehicles(
        conn,
        employee=employee,
        connection_id=connection_id,
        vehicle_ids=vehicle_ids,
        now=now,
        actor=actor,
    )
    for vehicle in linked:
        if vehicle.vehicle_id is None:
            owner = await reassignments.vehicle_owner(conn, vehicle.smartcar_vehicle_id)
            if owner is not None and owner["fleet_id"] == employee.fleet_id:
                await _offer(
                    conn,
                    employee,
                    owner["employee_id"],
                    actor,
                    connection_id=None,
                    vehicle_id=owner["id"],
                )
    await connect.record_connection(
        conn,
        employee=employee,
        connection_id=connection_id,
        action=action,
        smartcar_user_id=smartcar_user_id,
        linked=linked,
        actor=actor,
    )
    return ConnectResult(linked=linked)


async def _offer(
    conn: Connection,
    employee: Employee,
    current_employee_id: UUID,
    actor: str,
    *,
    connection_id: UUID | None,
    vehicle_id: UUID | None,
) -> None:
    """A pending reassignment for the fleet's managers, when the colleague is of this fleet
    (of another fleet, nothing is said or stored here)."""
    if await master.employee_in_fleet(conn, current_employee_id, employee.fleet_id):
        item = await reassignments.request(
            conn,
            fleet_id=employee.fleet_id,
            employee_id=employee.id,
            current_employee_id=current_employee_id,
            connection_id=connection_id,
            vehicle_id=vehicle_id,
            requested_by=actor,
        )
        if item is not None:
            await audit.record(
                conn,
                actor=actor,
                fleet_id=employee.fleet_id,
                entity="connection" if connection_id is not None else "vehicle",
                entity_id=connection_id or vehicle_id or item.id,
                action="reassignment_requested",
                after=item,
            )
