"""API keys: `fb_<role>_<8-char id>_<secret>`; only a SHA-256 of the secret is stored.

The secret is 256 random bits, so a fast hash is enough (there is nothing to brute-force);
the lookup is by the public prefix and the comparison of hashes is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.access import Principal, Role
from billing.domain.errors import Unauthenticated

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
) -> str:
    """Store a new key and return it in full: the only time it is ever shown."""
    prefix = f"fb_{role}_{_random(8)}"
    secret = _random(43)
    await conn.execute(_q.insert_key, prefix, _hash(secret), role, fleet_id, employee_id, name)
    return f"{prefix}_{secret}"


async def authenticate(conn: Connection, presented: str) -> Principal:
    prefix, _, secret = presented.rpartition("_")
    row = await conn.fetchrow(_q.find_by_prefix, prefix) if prefix else None
    expected = row["secret_hash"] if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, _hash(secret))
    if row is None or not matches:
        raise Unauthenticated("the API key is not valid")
    if row["revoked_at"] is not None:
        raise Unauthenticated("the API key has been revoked")
    return Principal(
        key_id=row["id"],
        prefix=row["prefix"],
        role=row["role"],
        fleet_id=row["fleet_id"],
        employee_id=row["employee_id"],
    )


async def revoke_key(conn: Connection, prefix: str) -> bool:
    return await conn.fetchval(_q.revoke_key, prefix) is not None
