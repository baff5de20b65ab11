from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from billing.config import Settings
from billing.crypto import TokenDecryptError
from billing.db.budget import Bucket
from billing.db.pool import Pool
from billing.db.records import VehicleOwner
from billing.db.sync_vehicles import (
    CallLog,
    StoreRefused,
    SyncVehicle,
    drain_budget,
    record_failure,
    take_budget,
)
from billing.db.sync_vehicles import vehicle as vehicle_row
from billing.domain import planner
from billing.domain.answer import AnswerRefused, ReadWindow
from billing.domain.errors import Retryable, StaleVersion
from billing.domain.models import SyncState
from billing.domain.sync_rules import Advice, Outcome, ReadDays, backoff_kind, read_days
from billing.services.ingestion import IngestResult, resolve_days, store_read
from billing.smartcar.client import SmartcarClient
from billing.smartcar.errors import SmartcarError
from billing.smartcar.records import ChargeRecordsResult
from billing.sync.outcomes import (
    SyncResult,
    local_error,
    outcome_of,
    state_for,
)
from billing.sync.tokens import ConnectionBroken, TokenKeeper, needs_key_error

log = logging.getLogger(__name__)

ENDPOINT = "charge_records"
# A lost race or a busy database while storing an answer: the answer is stored again, this
# many times in all, before the vehicle is left due for the next pass.
STORE_ATTEMPTS = 4


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


def _view(row: SyncVehicle) -> planner.VehicleView:
    return planner.VehicleView(
        id=row.id,
        sync_state=row.sync_state,
        synced_through=row.synced_through,
        access_granted_on=row.access_granted_on,
        last_success_at=row.last_success_at,
        next_sync_at=row.next_sync_at,
        not_before=row.not_before,
        consecutive_failures=row.consecutive_failures,
    )


async def sync_vehicle(ctx: SyncContext, row: SyncVehicle) -> SyncResult:
    """Read the claimed vehicle once. The caller has taken one call from the shared budget."""
    vehicle_id = row.id
    if row.sync_state in ("not_capable", "needs_reauth"):
        outcome: Outcome = row.sync_state
        return SyncResult(
            vehicle_id,
            outcome,
            error=local_error(
                "NOT_READABLE", f"the vehicle is {row.sync_state}; nothing was called"
            ),
            called=False,
        )
    if row.connection_state == "needs_key":
        return _needs_key(row)
    if row.connection_id is None:
        return await _fail_locally(
            ctx,
            row,
            "needs_reauth",
            "NOT_CONNECTED",
            "the vehicle has no Smartcar connection; connect it first",
        )
    now = ctx.clock()
    days = read_days(now, row.timezone, row.synced_through, ctx.settings.sync_lookback_days)
    try:
        result = await _read(ctx, row, days, now)
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
    owner = VehicleOwner(row.id, row.employee_id, row.fleet_id, row.timezone)
    try:
        stored = await _store(ctx, row, owner, result, days.window, now)
    except AnswerRefused as refused:
        failure = _answer_error(
            result, "INVALID_PAYLOAD", refused.code, refused.description, "bad_payload"
        )
        return await _record_failure(ctx, row, failure, ctx.clock())
    except StaleVersion as stale:
        failure = _answer_error(result, "STORAGE", None, str(stale), "retry_later")
        return await _record_failure(ctx, row, failure, ctx.clock())
    except StoreRefused as refused:
        # Whatever one vehicle's answer does to the database stays that vehicle's failure.
        failure = _answer_error(result, "STORAGE", refused.sqlstate, refused.message, "our_bug")
        return await _record_failure(ctx, row, failure, ctx.clock())
    except Retryable as busy:
        # Not this vehicle's doing, and nothing of the answer was stored: it stays as it was,
        # due, and the next pass reads it again.
        log.warning("storing vehicle %s's answer failed %d times: %s", row.id, STORE_ATTEMPTS, busy)
        unstored = local_error("STORAGE", f"nothing of the answer was stored: {busy}")
        return SyncResult(vehicle_id, "retry_later", error=unstored)
    log.debug(
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
    row: SyncVehicle,
    owner: VehicleOwner,
    result: ChargeRecordsResult,
    window: ReadWindow,
    now: datetime,
) -> IngestResult:
    """Store the answer and the vehicle's success in one transaction, again when it loses a
    race or the database is busy (the answer is in hand: nothing is called twice)."""
    days = resolve_days(result.records, owner.timezone, window)  # AnswerRefused: nothing stored
    through = window.last_ended  # a day still running is read again next time
    after = planner.VehicleView(
        id=row.id,
        sync_state="ok",
        access_granted_on=row.access_granted_on,
        synced_through=max(through, row.synced_through or through),
    )
    next_read = planner.next_read_after_success(
        after,
        now,
        row.fleet_size,
        planner.daily_capacity(ctx.settings.smartcar_rate_per_minute),
    )
    call = CallLog(row.connection_id, ENDPOINT, 200, "ok", result.request_id, ctx.worker)
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            return await store_read(
                ctx.pool,
                owner,
                days,
                result,
                actor=f"sync:{ctx.worker}",
                through=through,
                now=now,
                next_read=next_read,
                call=call,
            )
        except Retryable as busy:
            if attempt == STORE_ATTEMPTS:
                raise
            log.info("storing vehicle %s's answer again (%s)", row.id, busy)
            await asyncio.sleep(min(busy.retry_after_s, 1.0) * (0.5 + ctx.rng.random()))
    raise AssertionError("unreachable")


async def _read(
    ctx: SyncContext, row: SyncVehicle, days: ReadDays, now: datetime
) -> ChargeRecordsResult:
    assert row.connection_id is not None
    stored = row.access if row.connection_state == "active" else None
    try:
        access = await ctx.keeper.access(row.connection_id, now, stored=stored)
    except (ConnectionBroken, SmartcarError, TokenDecryptError) as error:
        raise _BeforeCall(error) from None
    start, end = days.start, days.end
    try:
        return await ctx.client.charge_records(
            row.smartcar_vehicle_id, access.token, start=start, end=end, now=now
        )
    except SmartcarError as error:
        if error.advice != "refresh_token":
            raise
    # The access token was refused although it looked valid: refresh once, try once more.
    # The retry is a second call, so it needs a second token from the shared budget.
    if await take_budget(ctx.pool, ctx.bucket, 1) == 0:
        raise SmartcarError(
            type="BUDGET",
            code=None,
            status=None,
            request_id=None,
            description="no budget left to retry after refreshing the token",
            advice="retry_later",
        )
    # Refresh unless whoever saw the same refusal first already replaced this generation.
    access = await ctx.keeper.access(row.connection_id, now, rejected=access)
    try:
        return await ctx.client.charge_records(
            row.smartcar_vehicle_id, access.token, start=start, end=end, now=now
        )
    except SmartcarError as error:
        if error.advice == "refresh_token":
            raise error.escalate() from None  # a fresh token is refused too: reconnect
        raise


async def _record_failure(
    ctx: SyncContext, row: SyncVehicle, error: SmartcarError, now: datetime
) -> SyncResult:
    failures = row.consecutive_failures + 1
    kind = backoff_kind(error.advice, error.type, error.code)
    not_before: datetime | None = None
    if kind is not None:
        not_before = planner.next_read_after_failure(
            _view(row), now, kind, error.retry_after_s, failures, ctx.rng.random()
        )
    elif error.advice == "app_throttled":
        # not this vehicle's doing: it stays due, everyone pauses
        await drain_budget(ctx.pool, ctx.bucket, error.retry_after_s or 60.0)
    state = state_for(error)
    call = None
    if error.status is not None:
        call = CallLog(
            row.connection_id, ENDPOINT, error.status, error.advice, error.request_id, ctx.worker
        )
    await record_failure(
        ctx.pool,
        row.id,
        state=state,
        now=now,
        error=error.to_json(),
        not_before=not_before,
        call=call,
    )
    log.warning(
        "reading vehicle %s failed: %s %s (%s) -> %s",
        row.id,
        error.type,
        error.code,
        error.description,
        state,
    )
    return SyncResult(row.id, outcome_of(error), error=error.to_json())


def _needs_key(row: SyncVehicle) -> SyncResult:
    """Nothing was called: the budget token goes back and the pass moves on."""
    assert row.connection_id is not None
    error = needs_key_error(row.connection_id)
    return SyncResult(row.id, "needs_key", error=error, called=False)


async def _fail_locally(
    ctx: SyncContext, row: SyncVehicle, state: SyncState, type_: str, description: str
) -> SyncResult:
    error = local_error(type_, description)
    await record_failure(
        ctx.pool, row.id, state=state, now=ctx.clock(), error=error, not_before=None
    )
    return SyncResult(row.id, "needs_reauth", error=error, called=False)


async def explain_skip(ctx: SyncContext, vehicle_id: UUID) -> SyncResult:
    """The result for a vehicle a pass was asked to read but could not claim."""
    row = await vehicle_row(ctx.pool, vehicle_id)
    if row is None:
        return SyncResult(
            vehicle_id, "failed", error=local_error("NOT_FOUND", "no vehicle with this id")
        )
    now = ctx.clock()
    state: SyncState = row.sync_state
    if row.connection_state == "needs_key" and state not in ("needs_reauth", "not_capable"):
        return replace(_needs_key(row), called=True)
    if state in ("needs_reauth", "owner_action", "not_capable"):
        outcome: Outcome = "not_capable" if state == "not_capable" else "needs_reauth"
        return SyncResult(
            vehicle_id,
            outcome,
            error=row.last_error
            or local_error("NOT_READABLE", f"the vehicle is {state}; nothing was called"),
        )
    if row.not_before is not None and row.not_before > now:
        return SyncResult(
            vehicle_id,
            "retry_later",
            error=local_error("BACKING_OFF", f"not read before {row.not_before.isoformat()}"),
        )
    if row.lease_until is not None and row.lease_until > now:
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
