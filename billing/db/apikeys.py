"""API keys: `fb_<role>_<8-char id>_<secret>`; only a SHA-256 of the secret is stored.

The secret is 256 random bits, so a fast hash is enough (there is nothing to brute-force);
the lookup is by the public prefix and the comparison of hashes is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import UTC, datetime
from uuid import UUID

from billing.db import audit
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.access import Principal, Role
from billing.domain.apikeys import ApiKey, ApiKeyCreated, needs_touch
from billing.domain.errors import NotFound, Unauthenticated

_q = queries("apikeys")
_ALPHABET = string.ascii_letters + string.digits
# Compared against when the prefix is unknown, so both paths do the same work.
_DUMMY_HASH = hashlib.sha256(b"no such key").digest()


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_key(
    conn: Connection,
    *,
    role: Role,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    name: str | None,
    expires_at: datetime | None = None,
    actor: str | None = None,
) -> str:
    """Store a new key and return it in full: the only time it is ever shown."""
    created = await issue_key(
        conn,
        role=role,
        fleet_id=fleet_id,
        employee_id=employee_id,
        name=name,
        expires_at=expires_at,
        actor=actor,
    )
    return created.key


async def issue_key(
    conn: Connection,
    *,
    role: Role,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    name: str | None,
    expires_at: datetime | None,
    actor: str | None,
) -> ApiKeyCreated:
    prefix = f"fb_{role}_{_random(8)}"
    secret = _random(43)
    row = await conn.fetchrow(
        _q.insert_key, prefix, _hash(secret), role, fleet_id, employee_id, name, expires_at
    )
    assert row is not None
    created = ApiKeyCreated(**dict(row), key=f"{prefix}_{secret}")
    if actor is not None:
        await audit.record(
            conn,
            actor=actor,
            fleet_id=fleet_id,
            entity="api_key",
            entity_id=row["id"],
            action="create",
            after=ApiKey.model_validate(dict(row)),
        )
    return created


async def authenticate(conn: Connection, presented: str, now: datetime | None = None) -> Principal:
    now = now or datetime.now(UTC)
    prefix, _, secret = presented.rpartition("_")
    row = await conn.fetchrow(_q.find_by_prefix, prefix) if prefix else None
    expected = row["secret_hash"] if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, _hash(secret))
    if row is None or not matches:
        raise Unauthenticated("the API key is not valid")
    if row["revoked_at"] is not None:
        raise Unauthenticated("the API key has been revoked")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Unauthenticated("the API key has expired")
    if needs_touch(row["last_used_at"], now):
        # at most once a minute per key: authentication stays a read almost always
        await conn.execute(_q.touch_key, row["id"], now)
    return Principal(
        key_id=row["id"],
        prefix=row["prefix"],
        role=row["role"],
        fleet_id=row["fleet_id"],
        employee_id=row["employee_id"],
    )


async def revoke_key(conn: Connection, prefix: str) -> bool:
    return await conn.fetchval(_q.revoke_key, prefix) is not None


async def list_keys(conn: Connection) -> list[ApiKey]:
    return [ApiKey.model_validate(dict(row)) for row in await conn.fetch(_q.list_keys)]


async def revoke(conn: Connection, prefix: str, *, actor: str) -> ApiKey:
    """Revoke the key (NotFound when there is no such key; revoking twice changes nothing)."""
    row = await conn.fetchrow(_q.revoke_key, prefix)
    if row is None:
        existing = await conn.fetchrow(_q.key_by_prefix, prefix)
        if existing is None:
            raise NotFound(f"no API key with prefix {prefix}")
        return ApiKey.model_validate(dict(existing))
    key = ApiKey.model_validate(dict(row))
    await audit.record(
        conn,
        actor=actor,
        fleet_id=key.fleet_id,
        entity="api_key",
        entity_id=row["id"],
        action="revoke",
        after=key,
    )
    return key
