"""Storing what Smartcar Connect hands back: the connection's tokens and the user's vehicles.

The rules (who may link what) live in `billing.services.connect`; these are its data steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from billing.crypto import TokenCipher, fingerprint
from billing.db import audit
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.models import Employee
from billing.smartcar.client import TokenGrant

_q = queries("connect")
_c = queries("connections")


@dataclass(frozen=True, slots=True)
class LinkedVehicle:
    smartcar_vehicle_id: str
    vehicle_id: UUID | None  # None: registered for someone else (anywhere), so not linked
    reconnected: bool


@dataclass(frozen=True, slots=True)
class UserConnection:
    id: UUID
    employee_id: UUID


async def consume_state(conn: Connection, nonce: str, employee_id: UUID) -> bool:
    """True the first time a state's nonce is seen; False for a replay."""
    return await conn.fetchval(_q.consume_state, nonce, employee_id) is not None


async def connection_for_user(conn: Connection, smartcar_user_id: str) -> UserConnection | None:
    """The connection of this Smartcar user, locked, if there is one."""
    row = await conn.fetchrow(_c.connection_for_user, smartcar_user_id)
    return UserConnection(row["id"], row["employee_id"]) if row is not None else None


async def store_tokens(
    conn: Connection,
    cipher: TokenCipher,
    *,
    existing: UserConnection | None,
    employee: Employee,
    smartcar_user_id: str,
    grant: TokenGrant,
) -> tuple[UUID, str]:
    """The connection id and "create" or "reconnect" (of the same employee's connection)."""
    access = cipher.encrypt(grant.access_token.get_secret_value())
    refresh = cipher.encrypt(grant.refresh_token.get_secret_value())
    if existing is None:
        connection_id: UUID = await conn.fetchval(
            _c.insert_connection,
            employee.id,
            smartcar_user_id,
            access,
            refresh,
            grant.access_expires_at,
            grant.received_at,
        )
        action = "create"
    else:
        assert existing.employee_id == employee.id
        connection_id = existing.id
        await conn.execute(
            _c.replace_connection_tokens,
            connection_id,
            employee.id,
            access,
            refresh,
            grant.access_expires_at,
            grant.received_at,
        )
        action = "reconnect"
    await conn.execute(
        _c.add_fingerprint, fingerprint(grant.refresh_token.get_secret_value()), connection_id
    )
    return connection_id, action


async def link_vehicles(
    conn: Connection,
    *,
    employee: Employee,
    connection_id: UUID,
    vehicle_ids: list[str],
    now: datetime,
    actor: str,
) -> list[LinkedVehicle]:
    """Link each vehicle to the employee unless it is registered for anyone else."""
    linked = []
    for smartcar_id in vehicle_ids:
        row = await conn.fetchrow(
            _q.link_vehicle,
            employee.fleet_id,
            employee.id,
            connection_id,
            smartcar_id,
            now.date(),
        )
        if row is None:
            linked.append(LinkedVehicle(smartcar_id, None, False))
            continue
        await audit.record(
            conn,
            actor=actor,
            fleet_id=employee.fleet_id,
            entity="vehicle",
            entity_id=row["id"],
            action="link" if row["inserted"] else "relink",
            after={
                "smartcar_vehicle_id": smartcar_id,
                "employee_id": str(employee.id),
                "connection_id": str(connection_id),
            },
        )
        linked.append(LinkedVehicle(smartcar_id, row["id"], not row["inserted"]))
    return linked


async def record_connection(
    conn: Connection,
    *,
    employee: Employee,
    connection_id: UUID,
    action: str,
    smartcar_user_id: str,
    linked: list[LinkedVehicle],
    actor: str,
) -> None:
    """The connection's audit event: only the vehicles linked here are named (a vehicle of
    another fleet never appears in this fleet's audit)."""
    await audit.record(
        conn,
        actor=actor,
        fleet_id=employee.fleet_id,
        entity="connection",
        entity_id=connection_id,
        action=action,
        after={
            "employee_id": str(employee.id),
            "smartcar_user_id": smartcar_user_id,
            "vehicles": [v.smartcar_vehicle_id for v in linked if v.vehicle_id is not None],
        },
    )


async def record_refused(conn: Connection, *, employee: Employee, reason: str, actor: str) -> None:
    await audit.record(
        conn,
        actor=actor,
        fleet_id=employee.fleet_id,
        entity="employee",
        entity_id=employee.id,
        action="connect_refused",
        after={"reason": reason},
    )
