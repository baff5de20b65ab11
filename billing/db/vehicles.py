"""Vehicles and the Smartcar connections that let us read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from billing.crypto import TokenCipher
from billing.db.pages import After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.errors import NotFound
from billing.domain.models import SyncState, TokenImport, Vehicle, VehicleCreate, VehicleSync
from billing.domain.window import window_deadline

_q = queries("vehicles")


def vehicle_from_row(row: asyncpg.Record) -> Vehicle:
    first_readable = row["access_granted_on"] or row["created_at"].astimezone(UTC).date()
    state: SyncState = row["sync_state"]
    deadline = (
        None if state == "not_capable" else window_deadline(row["synced_through"], first_readable)
    )
    last_error: dict[str, Any] | None = row["last_error"]
    return Vehicle(
        id=row["id"],
        fleet_id=row["fleet_id"],
        employee_id=row["employee_id"],
        smartcar_vehicle_id=row["smartcar_vehicle_id"],
        make=row["make"],
        connected=row["connection_id"] is not None,
        connection_state=row["connection_state"],
        sync=VehicleSync(
            state=state,
            last_success_at=row["last_success_at"],
            last_attempt_at=row["last_attempt_at"],
            synced_through=row["synced_through"],
            next_sync_at=row["next_sync_at"],
            not_before=row["not_before"],
            window_deadline=deadline,
            last_error=last_error,
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def insert_connection(
    conn: Connection, cipher: TokenCipher, employee_id: UUID, tokens: TokenImport, now: datetime
) -> UUID:
    connection_id: UUID = await conn.fetchval(
        _q.insert_connection,
        employee_id,
        cipher.encrypt(tokens.access_token.get_secret_value()),
        cipher.encrypt(tokens.refresh_token.get_secret_value()),
        tokens.access_expires_at or now,
    )
    return connection_id


async def insert_vehicle(
    conn: Connection,
    data: VehicleCreate,
    *,
    fleet_id: UUID,
    connection_id: UUID | None,
    granted_on: datetime | None,
) -> Vehicle:
    vehicle_id = await conn.fetchval(
        _q.insert_vehicle,
        fleet_id,
        data.employee_id,
        connection_id,
        data.smartcar_vehicle_id,
        data.make,
        granted_on.date() if granted_on else None,
    )
    return await get_vehicle(conn, vehicle_id)


async def get_vehicle(conn: Connection, vehicle_id: UUID) -> Vehicle:
    row = await conn.fetchrow(_q.get_vehicle, vehicle_id)
    if row is None:
        raise NotFound("no such vehicle")
    return vehicle_from_row(row)


async def list_vehicles(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    sync_state: SyncState | None,
    after: After,
    limit: int,
) -> list[Vehicle]:
    rows = await conn.fetch(
        _q.list_vehicles, fleet_id, employee_id, sync_state, after.created_at, after.id, limit
    )
    return [vehicle_from_row(row) for row in rows]


async def request_sync(conn: Connection, vehicle_id: UUID) -> bool:
    """Move the vehicle's next planned read to now; False when it cannot be read at all."""
    return await conn.fetchval(_q.request_sync, vehicle_id) is not None
