"""Pending reassignments of a car or Smartcar account between employees of one fleet."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from billing.db.pages import After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.errors import NotFound
from billing.domain.models import Reassignment, ReassignmentStatus

_q = queries("reassignments")


def _from_row(row: asyncpg.Record) -> Reassignment:
    return Reassignment.model_validate(dict(row))


async def request(
    conn: Connection,
    *,
    fleet_id: UUID,
    employee_id: UUID,
    current_employee_id: UUID,
    connection_id: UUID | None,
    vehicle_id: UUID | None,
    requested_by: str,
) -> Reassignment | None:
    """A new pending reassignment; None when the same one is pending already."""
    row = await conn.fetchrow(
        _q.insert_reassignment,
        fleet_id,
        employee_id,
        current_employee_id,
        connection_id,
        vehicle_id,
        requested_by,
    )
    return _from_row(row) if row is not None else None


async def list_reassignments(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    status: ReassignmentStatus | None,
    after: After,
    limit: int,
) -> list[Reassignment]:
    rows = await conn.fetch(
        _q.list_reassignments, fleet_id, status, after.created_at, after.id, limit
    )
    return [_from_row(row) for row in rows]


async def lock(conn: Connection, reassignment_id: UUID) -> Reassignment:
    row = await conn.fetchrow(_q.lock_reassignment, reassignment_id)
    if row is None:
        raise NotFound("no such reassignment")
    return _from_row(row)


async def decide(
    conn: Connection, reassignment_id: UUID, status: ReassignmentStatus, actor: str
) -> Reassignment:
    row = await conn.fetchrow(_q.decide_reassignment, reassignment_id, status, actor)
    assert row is not None  # locked and pending in this transaction
    return _from_row(row)


async def vehicle_owner(conn: Connection, smartcar_vehicle_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(_q.vehicle_owner, smartcar_vehicle_id)
    return row


async def move(conn: Connection, item: Reassignment) -> list[UUID]:
    """Move the account (with its cars of the previous employee) or the one car; the ids of
    the vehicles that moved."""
    if item.connection_id is not None:
        await conn.execute(_q.move_connection, item.connection_id, item.employee_id)
        rows = await conn.fetch(
            _q.move_connection_vehicles,
            item.connection_id,
            item.employee_id,
            item.current_employee_id,
        )
    else:
        rows = await conn.fetch(
            _q.move_vehicle, item.vehicle_id, item.employee_id, item.current_employee_id
        )
    return [row["id"] for row in rows]
