"""Finishing Smartcar Connect for an employee: what may be linked to whom.

A Connect link is bound to the browser that started it (checked by the route), and Connect
never moves anything that belongs to someone else: a Smartcar account already connected for
another employee is refused as a whole, and a vehicle registered for anyone else (in this
fleet or another) is left where it is. Both are said in plain words and audited; moving a car
between employees is a manager's decision, not a side effect of a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from billing.crypto import TokenCipher
from billing.db import connect
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
