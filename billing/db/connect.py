"""Storing what Smartcar Connect hands back: the connection's tokens and the user's vehicles.

Connect never moves a car: a vehicle already linked to another employee stays where it is,
and the move waits as a reassignment for a manager of that fleet to accept or refuse. A
vehicle registered in another fleet is left alone and its id is written nowhere in this
fleet's audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from pydantic import SecretStr

from billing.crypto import TokenCipher, fingerprint
from billing.db import audit, vehicles
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.models import Employee

_q = queries("connect")
_c = queries("connections")

LinkOutcome = Literal["connected", "reconnected", "awaiting_manager", "elsewhere"]


@dataclass(frozen=True, slots=True)
class LinkedVehicle:
    smartcar_vehicle_id: str
    vehicle_id: UUID | None  # None: registered in another fleet, left alone
    outcome: LinkOutcome


@dataclass(frozen=True, slots=True)
class StoredConnection:
    vehicles: list[LinkedVehicle]
    # for the service to record in the same transaction: the connection's, then each
    # vehicle's that changed, batched as `audit.record_batches` records them
    events: audit.Batches


class TokenGrant(Protocol):
    """What storing a connection reads of a token pair (the client's `TokenGrant` is one);
    a protocol, so the repositories need nothing of the Smartcar client."""

    @property
    def access_token(self) -> SecretStr: ...
    @property
    def refresh_token(self) -> SecretStr: ...
    @property
    def access_expires_at(self) -> datetime: ...
    @property
    def received_at(self) -> datetime: ...


async def consume_state(conn: Connection, nonce: str, employee_id: UUID) -> bool:
    """True the first time a state's nonce is seen; False for a replay."""
    return await conn.fetchval(_q.consume_state, nonce, employee_id) is not None


async def _store_tokens(
    conn: Connection,
    cipher: TokenCipher,
    employee: Employee,
    smartcar_user_id: str,
    grant: TokenGrant,
) -> tuple[UUID, audit.Event]:
    access = cipher.encrypt(grant.access_token.get_secret_value())
    refresh = cipher.encrypt(grant.refresh_token.get_secret_value())
    existing = await conn.fetchrow(_c.connection_for_user, smartcar_user_id)
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
        # One Smartcar user, one connection: fresh tokens, the same owner.
        connection_id = existing["id"]
        await conn.execute(
            _c.replace_connection_tokens,
            connection_id,
            access,
            refresh,
            grant.access_expires_at,
            grant.received_at,
        )
        action = "reconnect"
    await conn.execute(
        _c.add_fingerprint, fingerprint(grant.refresh_token.get_secret_value()), connection_id
    )
    after = {"employee_id": str(employee.id), "smartcar_user_id": smartcar_user_id}
    return connection_id, audit.Event(
        employee.fleet_id, "connection", connection_id, action, None, after
    )


async def _link(
    conn: Connection,
    employee: Employee,
    connection_id: UUID,
    smartcar_id: str,
    now: datetime,
    actor: str,
) -> tuple[LinkedVehicle, audit.Event | None]:
    previous = await conn.fetchrow(_q.vehicle_owner, smartcar_id)
    linked = await vehicles.link(conn, employee, connection_id, smartcar_id, now.date())
    if linked is not None:
        vehicle_id, inserted = linked
        outcome: LinkOutcome = "connected" if inserted else "reconnected"
        unchanged = (
            previous is not None
            and (previous["employee_id"], previous["connection_id"]) == (employee.id, connection_id)
            and previous["sync_state"] != "needs_reauth"
        )
        if unchanged:
            # Same employee, same connection, readable before: only the tokens were renewed,
            # which the connection's own event records; the vehicle did not change.
            return LinkedVehicle(smartcar_id, vehicle_id, outcome), None
        linking = audit.Event(
            employee.fleet_id,
            "vehicle",
            vehicle_id,
            "link" if inserted else "relink",
            None,
            {
                "smartcar_vehicle_id": smartcar_id,
                "employee_id": str(employee.id),
                "connection_id": str(connection_id),
            },
        )
        return LinkedVehicle(smartcar_id, vehicle_id, outcome), linking
    owner = previous
    if owner is None or owner["fleet_id"] != employee.fleet_id:
        return LinkedVehicle(smartcar_id, None, "elsewhere"), None
    requested = await conn.fetchval(
        _q.request_reassignment,
        employee.fleet_id,
        owner["id"],
        owner["employee_id"],
        employee.id,
        connection_id,
        actor,
    )
    event = None
    if requested is not None:
        event = audit.Event(
            employee.fleet_id,
            "vehicle",
            owner["id"],
            "reassignment_requested",
            None,
            {
                "reassignment_id": str(requested),
                "from_employee_id": str(owner["employee_id"]),
                "to_employee_id": str(employee.id),
            },
        )
    return LinkedVehicle(smartcar_id, owner["id"], "awaiting_manager"), event


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
) -> StoredConnection:
    """Store the connection's tokens and link its vehicles; `actor` is stored on the
    reassignments it requests."""
    connection_id, stored = await _store_tokens(conn, cipher, employee, smartcar_user_id, grant)
    vehicles: list[LinkedVehicle] = []
    events: list[tuple[audit.Event, ...]] = [(stored,)]
    for smartcar_id in vehicle_ids:
        linked, event = await _link(conn, employee, connection_id, smartcar_id, now, actor)
        vehicles.append(linked)
        if event is not None:
            events.append((event,))
    return StoredConnection(vehicles, tuple(events))
