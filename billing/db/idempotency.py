"""Idempotency keys: claim a key before running a request, store its response, replay it.

Every call here runs in its own short transaction (the pool's autocommit), separate from the
request's own: a claim must be visible to a concurrent duplicate before the request commits,
and must survive the request failing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries

_q = queries("idempotency")

# How long an attempt holds its key: a crashed attempt frees it after this.
LEASE_SECONDS = 300.0
# How long a finished response is replayed (the contract promises at least 24 hours).
RETENTION_SECONDS = 48 * 3600.0
PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Claimed:
    """This attempt holds the key and must finish or release it."""

    claim: UUID


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another attempt with the same key and request is still running."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used before for a different request."""


Outcome = Claimed | Replay | InFlight | Mismatch


def request_hash(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests "the same": method, path with query, and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


async def claim(
    conn: Connection,
    *,
    api_key_id: UUID,
    key: str,
    method: str,
    path: str,
    digest: bytes,
    lease_seconds: float = LEASE_SECONDS,
) -> Outcome:
    """Claim `key` for this request, or say what the earlier use of it means for this one."""
    # A few rounds: the holder may release or finish between our insert and our read.
    for _ in range(5):
        claimed = await conn.fetchval(
            _q.claim_key, api_key_id, key, method, path, digest, lease_seconds
        )
        if claimed is not None:
            return Claimed(claimed)
        row = await conn.fetchrow(_q.get_key, api_key_id, key)
        if row is None:
            continue
        if bytes(row["request_hash"]) != digest:
            return Mismatch()
        if row["state"] == "in_flight":
            return InFlight()
        return Replay(row["response_status"], bytes(row["response_body"]), row["response_type"])
    return InFlight()


async def finish(
    conn: Connection,
    *,
    api_key_id: UUID,
    key: str,
    claim: UUID,
    status: int,
    body: bytes,
    content_type: str | None,
    retention_seconds: float = RETENTION_SECONDS,
) -> bool:
    """Store the final response; False when the claim was lost (its lease ran out)."""
    done = await conn.fetchval(
        _q.finish_key, api_key_id, key, claim, status, body, content_type, retention_seconds
    )
    return done is not None


async def release(conn: Connection, *, api_key_id: UUID, key: str, claim: UUID) -> None:
    """Give the key up so the client may retry (after a server error)."""
    await conn.execute(_q.release_key, api_key_id, key, claim)


async def purge_expired(conn: Connection, *, batch: int = PURGE_BATCH, rounds: int = 100) -> int:
    """Delete expired keys, in batches; returns how many went. Safe to run from many processes."""
    total = 0
    for _ in range(rounds):
        status = await conn.execute(_q.purge_expired, batch)
        deleted = int(status.rsplit(" ", 1)[-1])
        total += deleted
        if deleted < batch:
            break
    return total
