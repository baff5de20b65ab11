"""The stored Smartcar token pairs the sync reads, refreshes and marks.

A refresh runs in the caller's transaction (it holds the connection's row lock across the
refresh call); the rest take the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from billing.db import vehicles
from billing.db.pool import Connection, Pool, connection, transaction
from billing.db.queries import queries

_q = queries("connections")


@dataclass(frozen=True, slots=True)
class StoredPair:
    id: UUID
    state: str
    access_token_enc: bytes
    refresh_token_enc: bytes
    access_expires_at: datetime
    refresh_issued_at: datetime
    generation: int
    last_error: dict[str, Any] | None


def _pair(row: asyncpg.Record) -> StoredPair:
    return StoredPair(
        row["id"],
        row["state"],
        row["access_token_enc"],
        row["refresh_token_enc"],
        row["access_expires_at"],
        row["refresh_issued_at"],
        row["generation"],
        row["last_error"],
    )


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A connection marked `needs_key`, with its tokens as stored."""

    id: UUID
    access_token_enc: bytes
    refresh_token_enc: bytes


async def pair(pool: Pool, connection_id: UUID) -> StoredPair | None:
    async with connection(pool) as conn:
        row = await conn.fetchrow(_q.get_connection, connection_id)
    return _pair(row) if row is not None else None


async def lock_pair(conn: Connection, connection_id: UUID) -> StoredPair | None:
    """The pair under its row lock, until the caller's transaction ends."""
    row = await conn.fetchrow(_q.lock_connection, connection_id)
    return _pair(row) if row is not None else None


async def store_refreshed(
    conn: Connection,
    connection_id: UUID,
    *,
    access_token_enc: bytes,
    refresh_token_enc: bytes,
    access_expires_at: datetime,
    received_at: datetime,
    refresh_fingerprint: bytes,
) -> int:
    """The new pair, its refresh token's fingerprint; the pair's new generation."""
    generation: int = await conn.fetchval(
        _q.store_refreshed,
        connection_id,
        access_token_enc,
        refresh_token_enc,
        access_expires_at,
        received_at,
    )
    await conn.execute(_q.add_fingerprint, refresh_fingerprint, connection_id)
    return generation


async def mark_broken(conn: Connection, connection_id: UUID, error: dict[str, Any]) -> int:
    """The connection and its vehicles need the employee to reconnect; how many vehicles."""
    await conn.execute(_q.mark_needs_reauth, connection_id, error)
    return await vehicles.mark_needs_reauth(conn, connection_id, error)


async def mark_needs_key(pool: Pool, connection_id: UUID, error: dict[str, Any]) -> None:
    async with transaction(pool) as conn:
        await conn.execute(_q.mark_needs_key, connection_id, error)


async def unreadable(pool: Pool) -> list[Unreadable]:
    async with connection(pool) as conn:
        rows = await conn.fetch(_q.needs_key_connections)
    return [Unreadable(r["id"], r["access_token_enc"], r["refresh_token_enc"]) for r in rows]


async def revive(pool: Pool, connection_id: UUID) -> bool:
    """Active again, if it still was `needs_key`."""
    async with transaction(pool) as conn:
        return await conn.fetchval(_q.revive_connection, connection_id) is not None


async def stale(pool: Pool, issued_before: datetime, limit: int) -> list[UUID]:
    """Active connections whose refresh token was issued before `issued_before`, oldest first."""
    async with connection(pool) as conn:
        rows = await conn.fetch(_q.stale_connections, issued_before, limit)
    return [row["id"] for row in rows]
