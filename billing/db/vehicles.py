"""Vehicles and the Smartcar connections that let us read them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from billing.crypto import TokenCipher, TokenDecryptError, fingerprint
from billing.db.pages import After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.errors import Conflict, DomainError, NotFound
from billing.domain.models import (
    Employee,
    SyncState,
    TokenImport,
    Vehicle,
    VehicleCreate,
    VehicleSync,
)
from billing.domain.window import window_deadline

_q = queries("vehicles")
_c = queries("connections")
KEY_CHECK_SAMPLE = 20
ROTATE_BATCH = 500


class SecretKeyMismatch(DomainError):
    """BILLING_SECRET_KEY decrypts none of the stored Smartcar tokens."""


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
    """The connection for imported tokens: the stored one their refresh token belongs to (one
    Smartcar user's cars share one rotating chain, so one connection), else a new one."""
    refresh = tokens.refresh_token.get_secret_value()
    existing = await conn.fetchrow(_c.connection_for_fingerprint, fingerprint(refresh))
    if existing is not None and existing["employee_id"] == employee_id:
        # The stored pair is this one or a newer one of the same chain: keep it.
        found: UUID = existing["id"]
        return found
    if existing is not None:
        raise Conflict("these Smartcar tokens are already connected to another employee")
    connection_id: UUID = await conn.fetchval(
        _c.insert_imported_connection,
        employee_id,
        cipher.encrypt(tokens.access_token.get_secret_value()),
        cipher.encrypt(refresh),
        tokens.access_expires_at or now,
    )
    await conn.execute(_c.add_fingerprint, fingerprint(refresh), connection_id)
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


async def check_secret_key(conn: Connection, cipher: TokenCipher) -> None:
    """Refuse to start when the configured keys read none of the newest stored tokens: a
    process with a wrong key would otherwise spend budget on reads it cannot make, and store
    tokens nobody else can read."""
    rows = await conn.fetch(_c.sample_tokens, KEY_CHECK_SAMPLE)
    for row in rows:
        try:
            cipher.decrypt(row["access_token_enc"])
        except TokenDecryptError:
            continue
        return
    if rows:
        raise SecretKeyMismatch(
            f"BILLING_SECRET_KEY decrypts none of the {len(rows)} newest stored Smartcar "
            "tokens; start with the key that encrypted them (comma-separated keys: the first "
            "encrypts, all decrypt)"
        )


@dataclass(frozen=True, slots=True)
class Rotated:
    rotated: int
    unreadable: list[UUID]


async def rotate_tokens(
    conn: Connection, cipher: TokenCipher, on_batch: Callable[[int], None] | None = None
) -> Rotated:
    """Re-encrypt every stored token under the first key, one transaction per batch.

    Running it again is harmless (the plaintexts never change). Tokens no key decrypts are
    left as they are and reported.
    """
    rotated, unreadable = 0, []
    after = UUID(int=0)
    while True:
        async with conn.transaction():
            rows = await conn.fetch(_c.tokens_to_rotate, after, ROTATE_BATCH)
            for row in rows:
                try:
                    previous = row["previous_refresh_enc"]
                    await conn.execute(
                        _c.store_rotated,
                        row["id"],
                        cipher.rotate(row["access_token_enc"]),
                        cipher.rotate(row["refresh_token_enc"]),
                        cipher.rotate(previous) if previous is not None else None,
                    )
                    rotated += 1
                except TokenDecryptError:
                    unreadable.append(row["id"])
        if not rows:
            return Rotated(rotated, unreadable)
        after = rows[-1]["id"]
        if on_batch is not None:
            on_batch(rotated + len(unreadable))


async def link(
    conn: Connection,
    employee: Employee,
    connection_id: UUID,
    smartcar_id: str,
    granted_on: date,
) -> tuple[UUID, bool] | None:
    """Connect's vehicle: (its id, whether it is new), or None when it is another employee's."""
    row = await conn.fetchrow(
        _q.link_vehicle, employee.fleet_id, employee.id, connection_id, smartcar_id, granted_on
    )
    return None if row is None else (row["id"], row["inserted"])


async def move(conn: Connection, vehicle_id: UUID, employee_id: UUID, connection_id: UUID) -> None:
    """An accepted reassignment: the vehicle belongs to its new employee and connection."""
    await conn.execute(_q.move_vehicle, vehicle_id, employee_id, connection_id)


async def mark_needs_reauth(conn: Connection, connection_id: UUID, error: dict[str, Any]) -> int:
    """Every vehicle of a broken connection waits for its employee; how many there are."""
    return len(await conn.fetch(_q.vehicles_need_reauth, connection_id, error))
