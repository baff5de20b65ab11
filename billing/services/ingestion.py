"""Ingestion: storing one vehicle's answer. Its days are upserted, flagged and priced in one
transaction, with an audit event for each restated day and for each line written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from billing.db import audit, ledger, records
from billing.db.pool import Connection, Pool, transaction
from billing.db.records import PreviousDay, VehicleOwner, WrittenDay
from billing.db.sync_vehicles import CallLog, record_success, store_refusals
from billing.domain import answer
from billing.domain.answer import DayRecord, ReadWindow
from billing.domain.plausibility import DayEnergy, flags_for
from billing.domain.record_day import record_day
from billing.smartcar.records import ChargeRecordsResult, UpstreamChargeRecord

# How many earlier days the plausibility checks look at (a missing Home address shows as a run).
_CONTEXT_DAYS = 14


@dataclass(frozen=True, slots=True)
class IngestResult:
    records: int  # days inserted or restated
    line_items: int  # lines created or changed
    unpriced: int


def resolve_days(
    upstream: Sequence[UpstreamChargeRecord], timezone: str, window: ReadWindow | None
) -> list[DayRecord]:
    """The answer's records with the day each names, one per day; AnswerRefused otherwise."""
    return answer.accept(
        [
            DayRecord(
                index,
                record_day(r.day_start, timezone, offset_stated=r.offset_stated),
                r.home_kwh,
                r.other_kwh,
                r.supercharger_kwh,
                r.total_kwh,
                r.raw,
            )
            for index, r in enumerate(upstream)
        ],
        window,
    )


async def store_answer(
    pool: Pool,
    owner: VehicleOwner,
    result: ChargeRecordsResult,
    *,
    actor: str,
    window: ReadWindow | None = None,
) -> IngestResult:
    """Store an answer's days (one row per vehicle and day), flag them and price them.

    The answer is checked first (`domain.answer`): a refused one raises AnswerRefused before
    anything is written. A read passes the `window` it asked for.
    """
    days = resolve_days(result.records, owner.timezone, window)
    async with transaction(pool) as conn:
        return await _store_days(conn, owner, days, result, actor=actor)


async def store_read(
    pool: Pool,
    owner: VehicleOwner,
    days: Sequence[DayRecord],
    result: ChargeRecordsResult,
    *,
    actor: str,
    through: date,
    now: datetime,
    next_read: datetime,
    call: CallLog,
) -> IngestResult:
    """A successful read in one transaction: its days (accepted, in day order, one per day)
    stored and priced, the vehicle read through `through`, its call logged.

    Whatever the database refuses of one answer raises StoreRefused; a lost race or a busy
    database raise `Retryable` (nothing is stored either way).
    """
    async with transaction(pool) as conn:
        with store_refusals():
            stored = await _store_days(conn, owner, days, result, actor=actor)
            await record_success(
                conn, owner.vehicle_id, through=through, now=now, next_read=next_read, call=call
            )
    return stored


async def _store_days(
    conn: Connection,
    owner: VehicleOwner,
    days: Sequence[DayRecord],
    result: ChargeRecordsResult,
    *,
    actor: str,
) -> IngestResult:
    if not days:
        return IngestResult(0, 0, 0)
    stored = await records.upsert_days(
        conn,
        owner,
        days,
        request_id=result.request_id,
        fetched_at=result.fetched_at,
        context_days=_CONTEXT_DAYS,
    )
    written, before = stored.written, stored.before
    if not written:
        return IngestResult(0, 0, 0)
    figures = {d.day: d for d in days}
    restated = [
        audit.Event(
            owner.fleet_id,
            "charge_record",
            day.id,
            "restate",
            _previous(before.get(day.charge_date)),
            {
                "home_kwh": figures[day.charge_date].home,
                "other_kwh": figures[day.charge_date].other,
                "supercharger_kwh": figures[day.charge_date].supercharger,
                "total_kwh": figures[day.charge_date].total,
                "revision": day.revision,
                "request_id": result.request_id,
            },
        )
        for day in written
        if not day.inserted
    ]
    if restated:
        await audit.record_many(conn, actor=actor, events=restated)
    changed = _changed_flags(written, before, figures)
    if changed:
        await records.set_flags(conn, owner.vehicle_id, changed)
    pricing = [
        {
            "id": day.id,
            "vehicle_id": owner.vehicle_id,
            "employee_id": owner.employee_id,
            "fleet_id": owner.fleet_id,
            "charge_date": day.charge_date,
            "home_kwh": day.home_kwh,
            "revision": day.revision,
            "request_id": day.request_id,
            "fetched_at": day.fetched_at,
            "source": day.source,
        }
        for day in written
    ]
    new = frozenset(day.id for day in written if day.inserted)
    priced = await ledger.reconcile_rows(conn, pricing, new=new)
    await audit.record_batches(conn, actor=actor, batches=priced.events)
    return IngestResult(len(written), priced.lines_changed, priced.unpriced)


def _previous(day: PreviousDay | None) -> dict[str, Any] | None:
    if day is None:
        return None
    return {
        "id": day.id,
        "charge_date": day.charge_date,
        "home_kwh": day.home_kwh,
        "other_kwh": day.other_kwh,
        "supercharger_kwh": day.supercharger_kwh,
        "total_kwh": day.total_kwh,
        "revision": day.revision,
    }


def _changed_flags(
    written: Sequence[WrittenDay],
    before: dict[date, PreviousDay],
    figures: dict[date, DayRecord],
) -> list[tuple[date, list[str]]]:
    """The written days whose flags change, each checked against the days before it as they
    now are."""
    first, last = written[0].charge_date, written[-1].charge_date
    now_written = {day.charge_date for day in written}
    history: list[DayEnergy] = []
    changed: list[tuple[date, list[str]]] = []
    for day in sorted(
        now_written.union(d for d in before if d >= first - timedelta(_CONTEXT_DAYS))
    ):
        if day > last:
            break
        if day in now_written:
            d = figures[day]
            energy = DayEnergy(day, d.home, d.other, d.supercharger, d.total)
        else:
            prev = before[day]
            energy = DayEnergy(
                day, prev.home_kwh, prev.other_kwh, prev.supercharger_kwh, prev.total_kwh
            )
        if day >= first:
            flags = flags_for(energy, history)
            stored = before[day].flags if day in before else []
            if flags != stored:
                changed.append((day, list(flags)))
        history.append(energy)
    return changed
