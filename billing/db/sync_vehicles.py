"""The sync's vehicle rows: claiming due vehicles under leases with the shared budget, and
writing what a read came to.

Every function takes the pool and owns its transaction, or takes a connection inside the
caller's. Rows leave as `SyncVehicle`s: what one read needs (the vehicle, its employee's zone,
its connection's stored access token and the fleet's size), read in the statement that
leases it, so a read makes no round trip before its Smartcar call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from billing.db.budget import Bucket
from billing.db.pool import Connection, Pool, connection, transaction
from billing.db.queries import queries
from billing.domain.errors import DomainError
from billing.domain.models import SyncState

_q = queries("sync")


@dataclass(frozen=True, slots=True)
class StoredAccess:
    """A connection's access token as stored (encrypted) and the generation of its pair."""

    connection_id: UUID
    access_token_enc: bytes
    access_expires_at: datetime
    generation: int


@dataclass(frozen=True, slots=True)
class SyncVehicle:
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    connection_id: UUID | None
    smartcar_vehicle_id: str
    sync_state: SyncState
    synced_through: date | None
    access_granted_on: date | None
    last_success_at: datetime | None
    next_sync_at: datetime | None
    not_before: datetime | None
    consecutive_failures: int
    lease_until: datetime | None
    last_error: dict[str, Any] | None
    timezone: str
    connection_state: str | None
    connection_error: dict[str, Any] | None
    # None without a connection
    access: StoredAccess | None
    fleet_size: int


def _vehicle(row: asyncpg.Record) -> SyncVehicle:
    (
        id_,
        fleet_id,
        employee_id,
        connection_id,
        smartcar_vehicle_id,
        sync_state,
        synced_through,
        access_granted_on,
        last_success_at,
        next_sync_at,
        not_before,
        consecutive_failures,
        lease_until,
        last_error,
        timezone,
        connection_state,
        access_token_enc,
        access_expires_at,
        generation,
        connection_error,
        fleet_size,
    ) = row
    access = (
        StoredAccess(connection_id, access_token_enc, access_expires_at, generation)
        if connection_id is not None and access_token_enc is not None
        else None
    )
    return SyncVehicle(
        id_,
        fleet_id,
        employee_id,
        connection_id,
        smartcar_vehicle_id,
        sync_state,
        synced_through,
        access_granted_on,
        last_success_at,
        next_sync_at,
        not_before,
        consecutive_failures,
        lease_until,
        last_error,
        timezone,
        connection_state,
        connection_error,
        access,
        fleet_size,
    )


@dataclass(frozen=True, slots=True)
class Claim:
    vehicles: list[SyncVehicle]  # leased and granted a call each
    budget: int  # calls the bucket could grant when the claim was sized (0: none)
    leased: int  # leases the claim took before the budget was taken
    fresh: int  # of them, not seen before in the pass


@dataclass(frozen=True, slots=True)
class Finished:
    vehicle_id: UUID
    called: bool  # False: its budget token goes back


async def claim(
    pool: Pool,
    bucket: Bucket,
    *,
    now: datetime,
    worker: str,
    limit: int,
    only: Sequence[UUID] | None,
    lease_s: float,
    seen: set[UUID],
    finished: Sequence[Finished] = (),
) -> Claim:
    """End the leases of `finished` reads and lease up to `limit` due vehicles (only those
    named in `only`, due or not, when given), a budget token each, in one transaction.

    Leases are taken before the bucket is locked, never the other way round; the bucket is
    settled with the ended leases as calls in flight until now and the new ones as no call
    yet. A vehicle in `seen` (read in this pass already) is leased back at once.
    """
    async with transaction(pool) as conn:
        ended = 0
        if finished:
            ended = len(
                await conn.fetch(_q.release_leases, [f.vehicle_id for f in finished], worker)
            )
        refund = sum(not f.called for f in finished)
        rows: list[asyncpg.Record] = []
        if limit > 0:
            rows = await conn.fetch(
                _q.claim_for_sync,
                now,
                worker,
                limit,
                list(only) if only else None,
                lease_s,
                bool(only),
                bucket.capacity,
                bucket.rate,
            )
        fresh = [row for row in rows if row[0] not in seen]
        claimed = []
        if rows or ended or refund:
            granted = await bucket.settle_take(
                conn, taken=len(rows), ended=ended, refund=refund, wanted=len(fresh)
            )
            claimed = fresh[:granted]
        if len(claimed) < len(rows):
            kept = {row[0] for row in claimed}
            await conn.execute(
                _q.release_leases, [row[0] for row in rows if row[0] not in kept], worker
            )
    # `budget` is what sizing the claim found: a claim that leased nothing with budget left
    # means nothing is due; one that leased nothing for lack of budget waits for refill.
    budget = len(rows) if rows else (limit if limit > 0 and await _has_budget(pool, bucket) else 0)
    return Claim([_vehicle(row) for row in claimed], budget, len(rows), len(fresh))


async def _has_budget(pool: Pool, bucket: Bucket) -> bool:
    async with connection(pool) as conn:
        return await bucket.whole(conn) > 0


async def vehicle(pool: Pool, vehicle_id: UUID) -> SyncVehicle | None:
    async with connection(pool) as conn:
        row = await conn.fetchrow(_q.vehicle_read, vehicle_id)
    return _vehicle(row) if row is not None else None


async def release_all(pool: Pool, bucket: Bucket, worker: str) -> int:
    """End every lease `worker` holds (it stops); how many there were."""
    async with transaction(pool) as conn:
        ended = await conn.fetch(_q.release_all, worker)
        await bucket.settle(conn, ended=len(ended))
    return len(ended)


async def due_count(pool: Pool, now: datetime, only: Sequence[UUID] | None) -> int:
    async with connection(pool) as conn:
        count: int = await conn.fetchval(
            _q.due_count, now, list(only) if only else None, bool(only)
        )
    return count


async def deadlines_at_risk(pool: Pool, now: datetime, days: int) -> int:
    async with connection(pool) as conn:
        count: int = await conn.fetchval(_q.deadlines_at_risk, now, days)
    return count


@dataclass(frozen=True, slots=True)
class CallLog:
    """One Smartcar call, for the call log."""

    connection_id: UUID | None
    endpoint: str
    status: int | None  # None: no HTTP answer, nothing is logged
    outcome: str
    request_id: str | None
    worker: str


class StoreRefused(DomainError):
    """The database refused to store the answer (a constraint, an overflow …)."""

    def __init__(self, sqlstate: str | None, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@contextmanager
def store_refusals() -> Iterator[None]:
    """Whatever the database refuses of one answer leaves it as StoreRefused; a lost race or
    a busy database leave it as they are, for the pool's translation to make them retryable.
    Used inside the transaction storing the answer."""
    try:
        yield
    except (
        asyncpg.TransactionRollbackError,
        asyncpg.QueryCanceledError,
        asyncpg.TooManyConnectionsError,
        asyncpg.PostgresConnectionError,
    ):
        raise
    except asyncpg.PostgresError as failed:
        raise StoreRefused(failed.sqlstate, str(failed)) from None


async def record_success(
    conn: Connection,
    vehicle_id: UUID,
    *,
    through: date,
    now: datetime,
    next_read: datetime,
    call: CallLog,
) -> None:
    """The vehicle read through `through` at `now`, and its call logged; in the caller's
    transaction (the one storing the records)."""
    await conn.execute(
        _q.record_success_logged,
        vehicle_id,
        through,
        now,
        next_read,
        call.connection_id,
        call.endpoint,
        call.request_id,
        call.worker,
    )


async def record_failure(
    pool: Pool,
    vehicle_id: UUID,
    *,
    state: SyncState,
    now: datetime,
    error: dict[str, Any],
    not_before: datetime | None,
    call: CallLog | None = None,
) -> None:
    """The vehicle's failed read (and its call, when one was answered), in one statement."""
    async with transaction(pool) as conn:
        await conn.execute(
            _q.record_failure_logged,
            vehicle_id,
            state,
            now,
            error,
            not_before,
            call.status if call is not None else None,
            call.connection_id if call is not None else None,
            call.endpoint if call is not None else None,
            call.outcome if call is not None else None,
            call.request_id if call is not None else None,
            call.worker if call is not None else None,
        )


async def take_budget(pool: Pool, bucket: Bucket, n: int) -> int:
    async with connection(pool) as conn:
        return await bucket.take(conn, n)


async def drain_budget(pool: Pool, bucket: Bucket, retry_after_s: float) -> None:
    async with connection(pool) as conn:
        await bucket.drain(conn, retry_after_s)
