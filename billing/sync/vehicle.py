"""Reading one vehicle: one Smartcar call, its records stored and priced, its state updated.

The records, their line items and the vehicle's new `synced_through` commit in one
transaction, so the vehicle never says it is synced through a day that was not stored; a
crash before the commit leaves the previous state, and the next read does the work again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from billing.config import Settings
from billing.crypto import TokenDecryptError
from billing.db.budget import Bucket
from billing.db.pool import Pool, transaction
from billing.db.queries import queries
from billing.domain import planner
from billing.domain.answer import AnswerRefused, ReadWindow
from billing.domain.errors import StaleVersion
from billing.domain.models import SyncState
from billing.domain.window import HISTORY_DAYS, last_ended_day
from billing.smartcar.client import SmartcarClient
from billing.smartcar.errors import Advice, SmartcarError
from billing.smartcar.records import ChargeRecordsResult
from billing.sync.ingest import IngestResult, VehicleOwner, store_records
from billing.sync.outcomes import (
    Outcome,
    SyncResult,
    local_error,
    outcome_of,
    state_for,
)
from billing.sync.tokens import ConnectionBroken, TokenKeeper, needs_key_error

_q = queries("sync")
log = logging.getLogger(__name__)

ENDPOINT = "charge_records"


class _BeforeCall(Exception):
    """Getting an access token failed, so no charge-records call was made."""

    def __init__(self, cause: SmartcarError | ConnectionBroken | TokenDecryptError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class SyncContext:
    """Everything a read needs; one per process."""

    pool: Pool
    client: SmartcarClient
    keeper: TokenKeeper
    bucket: Bucket
    settings: Settings
    worker: str
    clock: Callable[[], datetime]
    rng: random.Random


def _view(row: asyncpg.Record) -> planner.VehicleView:
    return planner.VehicleView(
        id=row["id"],
        sync_state=row["sync_state"],
        synced_through=row["synced_through"],
        access_granted_on=row["access_granted_on"],
        last_success_at=row["last_success_at"],
        next_sync_at=row["next_sync_at"],
        not_before=row["not_before"],
        consecutive_failures=row["consecutive_failures"],
    )


async def sync_vehicle(ctx: SyncContext, vehicle_id: UUID) -> SyncResult:
    """Read the vehicle once. The caller has taken one call from the shared budget."""
    row = await ctx.pool.fetchrow(_q.vehicle_for_sync, vehicle_id)
    if row is None:
        raise LookupError(f"no vehicle {vehicle_id}")
    if row["sync_state"] in ("not_capable", "needs_reauth"):
        outcome: Outcome = row["sync_state"]
        return SyncResult(
            vehicle_id,
            outcome,
            error=local_error(
                "NOT_READABLE", f"the vehicle is {row['sync_state']}; nothing was called"
            ),
            called=False,
        )
    if row["connection_state"] == "needs_key":
        return _needs_key(row)
    if row["connection_id"] is None:
        return await _fail_locally(
            ctx,
            row,
            "needs_reauth",
            "NOT_CONNECTED",
            "the vehicle has no Smartcar connection; connect it first",
        )
    now = ctx.clock()
    today = planner.today_of(now)
    # Only days that have ended for the employee are asked for (and accepted): a day still
    # running would be priced from a partial figure.
    end = last_ended_day(now, row["timezone"])
    start = None
    if row["synced_through"] is not None:
        lookback = timedelta(days=ctx.settings.sync_lookback_days)
        start = min(
            max(
                row["synced_through"] + timedelta(days=1) - lookback,
                today - timedelta(days=HISTORY_DAYS - 1),
            ),
            end,
        )
    # Without a startDate Smartcar offers its last 30 days (its today may be a day ahead of
    # or behind UTC's).
    window = ReadWindow(
        first=start or today - timedelta(days=HISTORY_DAYS), last=end, last_ended=end
    )
    try:
        result = await _read(ctx, row, start, end, now)
    except _BeforeCall as failed:
        if isinstance(failed.cause, TokenDecryptError):
            return _needs_key(row)
        if isinstance(failed.cause, ConnectionBroken):
            error = failed.cause.error.to_json()
            return SyncResult(vehicle_id, "needs_reauth", error=error, called=False)
        return replace(await _record_failure(ctx, row, failed.cause, now), called=False)
    except ConnectionBroken as broken:
        return SyncResult(vehicle_id, "needs_reauth", error=broken.error.to_json())
    except TokenDecryptError:
        return replace(_needs_key(row), called=True)
    except SmartcarError as error:
        # Retry-After counts from the answer, not from when the call was started.
        return await _record_failure(ctx, row, error, ctx.clock())
    owner = VehicleOwner(row["id"], row["employee_id"], row["fleet_id"], row["timezone"])
    try:
        stored = await _store(ctx, row, owner, result, window, now)
    except AnswerRefused as refused:
        failure = _answer_error(
            result, "INVALID_PAYLOAD", refused.code, refused.description, "bad_payload"
        )
        return await _record_failure(ctx, row, failure, ctx.clock())
    except StaleVersion as stale:
        failure = _answer_error(result, "STORAGE", None, str(stale), "retry_later")
        return await _record_failure(ctx, row, failure, ctx.clock())
    except asyncpg.PostgresConnectionError:
        raise  # the database is away: not this vehicle's doing
    except asyncpg.PostgresError as failed:
        # Whatever one vehicle's answer does to the database stays that vehicle's failure.
        advice: Advice = (
            "retry_later" if isinstance(failed, asyncpg.TransactionRollbackError) else "our_bug"
        )
        failure = _answer_error(result, "STORAGE", failed.sqlstate, str(failed), advice)
        return await _record_failure(ctx, row, failure, ctx.clock())
    log.info(
        "synced vehicle %s: %d record(s) stored, %d line item(s) changed",
        vehicle_id,
        stored.records,
        stored.line_items,
    )
    return SyncResult(vehicle_id, "ok", stored.records, stored.line_items)


def _answer_error(
    result: ChargeRecordsResult, type_: str, code: str | None, description: str, advice: Advice
) -> SmartcarError:
    """A failure of an answer Smartcar gave (HTTP 200) that was not stored."""
    return SmartcarError(
        type=type_,
        code=code,
        status=200,
        request_id=result.request_id,
        description=f"nothing of the answer was stored: {description}",
        advice=advice,
    )


async def _store(
    ctx: SyncContext,
    row: asyncpg.Record,
    owner: VehicleOwner,
    result: ChargeRecordsResult,
    window: ReadWindow,
    now: datetime,
) -> IngestResult:
    """Store the answer and the vehicle's success in one transaction."""
    vehicle_id = row["id"]
    async with transaction(ctx.pool) as conn:
        stored = await store_records(conn, owner, result, actor=f"sync:{ctx.worker}", window=window)
        fleet_size = await conn.fetchval(_q.fleet_size)
        through = window.last_ended  # a day still running is read again next time
        after = planner.VehicleView(
            id=row["id"],
            sync_state="ok",
            access_granted_on=row["access_granted_on"],
            synced_through=max(through, row["synced_through"] or through),
        )
        next_read = planner.next_read_after_success(
            after,
            now,
            fleet_size,
            planner.daily_capacity(ctx.settings.smartcar_rate_per_minute),
        )
        await conn.execute(_q.record_success, vehicle_id, through, now, next_read)
        await conn.execute(
            _q.log_call,
            vehicle_id,
            row["connection_id"],
            ENDPOINT,
            200,
            "ok",
            result.request_id,
            ctx.worker,
        )
    return stored


async def _read(
    ctx: SyncContext, row: asyncpg.Record, start: Any, today: Any, now: datetime
) -> ChargeRecordsResult:
    try:
        access = await ctx.keeper.access(row["connection_id"], now)
    except (ConnectionBroken, SmartcarError, TokenDecryptError) as error:
        raise _BeforeCall(error) from None
    try:
        return await ctx.client.charge_records(
            row["smartcar_vehicle_id"], access.token, start=start, end=today, now=now
        )
    except SmartcarError as error:
        if error.advice != "refresh_token":
            raise
    # The access token was refused although it looked valid: refresh once, try once more.
    # The retry is a second call, so it needs a second token from the shared budget.
    async with ctx.pool.acquire() as conn:
        if await ctx.bucket.take(conn, 1) == 0:
            raise SmartcarError(
                type="BUDGET",
                code=None,
                status=None,
                request_id=None,
                description="no budget left to retry after refreshing the token",
                advice="retry_later",
            )
    # Refresh unless whoever saw the same refusal first already replaced this generation.
    access = await ctx.keeper.access(row["connection_id"], now, rejected=access)
    try:
        return await ctx.client.charge_records(
            row["smartcar_vehicle_id"], access.token, start=start, end=today, now=now
        )
    except SmartcarError as error:
        if error.advice == "refresh_token":
            raise error.escalate() from None  # a fresh token is refused too: reconnect
        raise


async def _record_failure(
    ctx: SyncContext, row: asyncpg.Record, error: SmartcarError, now: datetime
) -> SyncResult:
    failures = row["consecutive_failures"] + 1
    view = _view(row)
    not_before: datetime | None
    match error.advice:
        case "vehicle_throttled":
            not_before = planner.next_read_after_failure(
                view, now, "vehicle_throttle", error.retry_after_s, failures, ctx.rng.random()
            )
        case "retry_later" | "plan_limit" | "our_bug" | "bad_payload":
            kind: planner.FailureKind = (
                "upstream_rate_limit"
                if (error.type, error.code) == ("UPSTREAM", "RATE_LIMIT")
                or error.advice == "plan_limit"
                else "transient"
            )
            not_before = planner.next_read_after_failure(
                view, now, kind, error.retry_after_s, failures, ctx.rng.random()
            )
        case "app_throttled":
            not_before = None  # not this vehicle's doing: it stays due, everyone pauses
            async with ctx.pool.acquire() as conn:
                await ctx.bucket.drain(conn, error.retry_after_s or 60.0)
        case _:
            not_before = None  # a state nobody reads until a person acts
    state = state_for(error)
    async with transaction(ctx.pool) as conn:
        await conn.execute(_q.record_failure, row["id"], state, now, error.to_json(), not_before)
        if error.status is not None:
            await conn.execute(
                _q.log_call,
                row["id"],
                row["connection_id"],
                ENDPOINT,
                error.status,
                error.advice,
                error.request_id,
                ctx.worker,
            )
    log.warning(
        "reading vehicle %s failed: %s %s (%s) -> %s",
        row["id"],
        error.type,
        error.code,
        error.description,
        state,
    )
    return SyncResult(row["id"], outcome_of(error), error=error.to_json())


def _needs_key(row: asyncpg.Record) -> SyncResult:
    """Nothing was called: the budget token goes back and the pass moves on."""
    error = needs_key_error(row["connection_id"])
    return SyncResult(row["id"], "needs_key", error=error, called=False)


async def _fail_locally(
    ctx: SyncContext, row: asyncpg.Record, state: SyncState, type_: str, description: str
) -> SyncResult:
    error = local_error(type_, description)
    async with transaction(ctx.pool) as conn:
        await conn.execute(_q.record_failure, row["id"], state, ctx.clock(), error, None)
    return SyncResult(row["id"], "needs_reauth", error=error, called=False)


async def explain_skip(ctx: SyncContext, vehicle_id: UUID) -> SyncResult:
    """The result for a vehicle a pass was asked to read but could not claim."""
    row = await ctx.pool.fetchrow(_q.vehicle_for_sync, vehicle_id)
    if row is None:
        return SyncResult(
            vehicle_id, "failed", error=local_error("NOT_FOUND", "no vehicle with this id")
        )
    now = ctx.clock()
    state: SyncState = row["sync_state"]
    if row["connection_state"] == "needs_key" and state not in ("needs_reauth", "not_capable"):
        return replace(_needs_key(row), called=True)
    if state in ("needs_reauth", "owner_action", "not_capable"):
        outcome: Outcome = "not_capable" if state == "not_capable" else "needs_reauth"
        return SyncResult(
            vehicle_id,
            outcome,
            error=row["last_error"]
            or local_error("NOT_READABLE", f"the vehicle is {state}; nothing was called"),
        )
    if row["not_before"] is not None and row["not_before"] > now:
        return SyncResult(
            vehicle_id,
            "retry_later",
            error=local_error("BACKING_OFF", f"not read before {row['not_before'].isoformat()}"),
        )
    if row["lease_until"] is not None and row["lease_until"] > now:
        return SyncResult(
            vehicle_id,
            "retry_later",
            error=local_error("LEASED", "another process is reading this vehicle"),
        )
    return SyncResult(
        vehicle_id,
        "retry_later",
        error=local_error("NOT_CLAIMED", "the vehicle could not be claimed; try again"),
    )
