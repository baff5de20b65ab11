"""Vehicle reassignments: a move between employees that Connect asked for and a manager decides."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from billing.db import vehicles
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.errors import NotFound

_q = queries("connect")

ReassignmentStatus = Literal["pending", "accepted", "refused"]


class Reassignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: UUID
    fleet_id: UUID
    vehicle_id: UUID
    from_employee_id: UUID
    to_employee_id: UUID
    connection_id: UUID
    status: ReassignmentStatus
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime


class ReassignmentView(Reassignment):
    vehicle_name: str
    from_name: str
    to_name: str


async def list_reassignments(
    conn: Connection, *, fleet_id: UUID | None, status: ReassignmentStatus | None, limit: int
) -> list[ReassignmentView]:
    rows = await conn.fetch(_q.list_reassignments, fleet_id, status, limit)
    return [ReassignmentView.model_validate(dict(row)) for row in rows]


async def lock_reassignment(conn: Connection, reassignment_id: UUID) -> Reassignment:
    row = await conn.fetchrow(_q.lock_reassignment, reassignment_id)
    if row is None:
        raise NotFound("no such reassignment")
    return Reassignment.model_validate(dict(row))


async def decide(
    conn: Connection,
    reassignment: Reassignment,
    *,
    status: Literal["accepted", "refused"],
    actor: str,
    now: datetime,
    reason: str | None,
) -> Reassignment:
    row = await conn.fetchrow(_q.decide_reassignment, reassignment.id, status, actor, now, reason)
    assert row is not None  # locked and pending: the caller checked
    if status == "accepted":
        await vehicles.move(
            conn, reassignment.vehicle_id, reassignment.to_employee_id, reassignment.connection_id
        )
    return Reassignment.model_validate(dict(row))
