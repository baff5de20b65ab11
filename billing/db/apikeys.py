"""API keys: `fb_<role>_<8-char id>_<secret>`; only a SHA-256 of the secret is stored.

The secret is 256 random bits, so a fast hash is enough (there is nothing to brute-force);
the lookup is by the public prefix and the comparison of hashes is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

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
) -> str:
    """Store a new key and return it in full: the only time it is ever shown."""
    created = await issue_key(
        conn,
        role=role,
        fleet_id=fleet_id,
        employee_id=employee_id,
        name=name,
        expires_at=expires_at,
    )
    return created.key.key


@dataclass(frozen=True, slots=True)
class Issued:
    id: UUID
    key: ApiKeyCreated


async def issue_key(
    conn: Connection,
    *,
    role: Role,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    name: str | None,
    expires_at: datetime | None,
) -> Issued:
    prefix = f"fb_{role}_{_random(8)}"
    secret = _random(43)
    row = await conn.fetchrow(
        _q.insert_key, prefix, _hash(secret), role, fleet_id, employee_id, name, expires_at
    )
    assert row is not None
    return Issued(row["id"], ApiKeyCreated(**dict(row), key=f"{prefix}_{secret}"))


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


@dataclass(frozen=True, slots=True)
class Revoked:
    id: UUID
    key: ApiKey
    changed: bool  # False when the key had been revoked before


async def revoke(conn: Connection, prefix: str) -> Revoked:
    """Revoke the key (NotFound when there is no such key; revoking twice changes nothing)."""
    row = await conn.fetchrow(_q.revoke_key, prefix)
    if row is not None:
        return Revoked(row["id"], ApiKey.model_validate(dict(row)), changed=True)
    existing = await conn.fetchrow(_q.key_by_prefix, prefix)
    if existing is None:
        raise NotFound(f"no API key with prefix {prefix}")
    return Revoked(existing["id"], ApiKey.model_validate(dict(existing)), changed=False)
