"""Storing what Smartcar Connect hands back: the connection's tokens and the user's vehicles."""

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
    vehicle_id: UUID | None  # None: the vehicle belongs to another fleet and was not linked
    reconnected: bool


async def consume_state(conn: Connection, nonce: str, employee_id: UUID) -> bool:
    """True the first time a state's nonce is seen; False for a replay."""
    return await conn.fetchval(_q.consume_state, nonce, employee_id) is not None


async def store_connection(
    conn: Connection,
    cipher: TokenCipher,
    *,
    employee: Employee,
    smartcar_user_id: str,
    grant: TokenGrant,
    vehicle_ids: list[str],
    now: datetime,
    actor: str,
) -> list[LinkedVehicle]:
    access = cipher.encrypt(grant.access_token.get_secret_value())
    refresh = cipher.encrypt(grant.refresh_token.get_secret_value())
    connection_id = await conn.fetchval(_c.connection_for_user, smartcar_user_id)
    if connection_id is None:
        connection_id = await conn.fetchval(
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
            "vehicles": vehicle_ids,
        },
    )
    linked = []
    for smartcar_id in vehicle_ids:
        previous = await conn.fetchrow(_q.current_link, smartcar_id)
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
        linked.append(LinkedVehicle(smartcar_id, row["id"], not row["inserted"]))
        unchanged = (
            previous is not None
            and (previous["employee_id"], previous["connection_id"]) == (employee.id, connection_id)
            and previous["sync_state"] != "needs_reauth"
        )
        if unchanged:
            # Same employee, same connection, readable before: only the tokens were renewed,
            # which the connection's own event records; the vehicle did not change.
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
    return linked
