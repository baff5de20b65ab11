"""Web sessions: a browser's signed-in state, stored server side and found by a hashed id."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.access import Principal

_q = queries("web_sessions")


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def create_session(
    conn: Connection, key_id: UUID, *, now: datetime, lifetime: timedelta
) -> str:
    """Store a new session for the key and return its id: the only time it is ever shown."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(_q.insert_session, _hash(session_id), key_id, csrf, now, now + lifetime)
    return session_id


async def find_session(
    conn: Connection, session_id: str, *, now: datetime, idle: timedelta
) -> Session | None:
    row = await conn.fetchrow(_q.find_session, _hash(session_id), now, idle)
    if row is None:
        return None
    principal = Principal(
        key_id=row["key_id"],
        prefix=row["prefix"],
        role=row["role"],
        fleet_id=row["fleet_id"],
        employee_id=row["employee_id"],
    )
    return Session(principal=principal, csrf_token=row["csrf_token"])


async def revoke_session(conn: Connection, session_id: str, *, now: datetime) -> None:
    await conn.execute(_q.revoke_session, _hash(session_id), now)
