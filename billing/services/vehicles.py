"""Vehicles: registering one (with imported Smartcar tokens or without) and asking for a read."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from billing.crypto import TokenCipher
from billing.db import audit, master, vehicles
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import Conflict, Forbidden
from billing.domain.models import SyncState, Vehicle, VehicleCreate


async def create_vehicle(
    pool: Pool, cipher: TokenCipher, who: Principal, body: VehicleCreate, *, now: datetime
) -> Vehicle:
    """The vehicle belongs to its employee's fleet; tokens given are stored encrypted."""
    async with transaction(pool) as conn:
        employee = await master.get_employee(conn, body.employee_id)
        who.check_manages(employee.fleet_id, employee.id, what="employee")
        connection_id = None
        if body.tokens is not None:
            connection_id = await vehicles.insert_connection(
                conn, cipher, employee.id, body.tokens, now
            )
        vehicle = await vehicles.insert_vehicle(
            conn,
            body,
            fleet_id=employee.fleet_id,
            connection_id=connection_id,
            granted_on=now if connection_id else None,
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=vehicle.fleet_id,
            entity="vehicle",
            entity_id=vehicle.id,
            action="create",
            after=vehicle,
        )
    return vehicle


async def request_sync(pool: Pool, who: Principal, vehicle_id: UUID) -> Vehicle:
    """Move the vehicle's next read to now. Scheduling, not a change of data: no audit event."""
    async with transaction(pool) as conn:
        vehicle = await vehicles.get_vehicle(conn, vehicle_id)
        who.check_sees(vehicle.fleet_id, vehicle.employee_id, what="vehicle")
        if who.role not in ("admin", "manager"):
            raise Forbidden(f"the {who.role} role may not ask for a sync")
        if not await vehicles.request_sync(conn, vehicle.id):
            raise Conflict("this vehicle cannot provide charge records; it is not polled")
        return await vehicles.get_vehicle(conn, vehicle.id)


async def list_vehicles(
    pool: Pool,
    who: Principal,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    sync_state: SyncState | None,
    after: After,
    limit: int,
) -> list[Vehicle]:
    scoped_fleet = who.scope_fleet(fleet_id)
    scoped_employee = who.scope_employee(employee_id)
    async with connection(pool) as conn:
        return await vehicles.list_vehicles(
            conn,
            fleet_id=scoped_fleet,
            employee_id=scoped_employee,
            sync_state=sync_state,
            after=after,
            limit=limit,
        )


async def get_vehicle(pool: Pool, who: Principal, vehicle_id: UUID) -> Vehicle:
    async with connection(pool) as conn:
        vehicle = await vehicles.get_vehicle(conn, vehicle_id)
    who.check_sees(vehicle.fleet_id, vehicle.employee_id, what="vehicle")
    return vehicle
