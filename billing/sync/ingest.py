"""Storing a read's charge records and pricing them, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from billing.db import audit, ledger
from billing.db.pool import Connection, dumps
from billing.db.queries import queries
from billing.domain import answer
from billing.domain.answer import DayRecord, ReadWindow
from billing.domain.plausibility import DayEnergy, flags_for
from billing.domain.record_day import record_day
from billing.smartcar.records import ChargeRecordsResult, UpstreamChargeRecord

_q = queries("records")
SOURCE = "smartcar:v2"
# How many earlier days the plausibility checks look at (a missing Home address shows as a run).
_CONTEXT_DAYS = 14


@dataclass(frozen=True, slots=True)
class VehicleOwner:
    vehicle_id: UUID
    employee_id: UUID
    fleet_id: UUID
    timezone: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    records: int  # days inserted or restated
    line_items: int  # lines created or changed
    unpriced: int


def resolve_days(
    records: Sequence[UpstreamChargeRecord], timezone: str, window: ReadWindow | None
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
            for index, r in enumerate(records)
        ],
        window,
    )


async def store_records(
    conn: Connection,
    owner: VehicleOwner,
    result: ChargeRecordsResult,
    *,
    actor: str,
    window: ReadWindow | None = None,
) -> IngestResult:
    """Upsert the read's days (one row per vehicle and day), flag them and price them.

    The answer is checked first (`domain.answer`): a refused one raises AnswerRefused before
    anything is written. A read passes the `window` it asked for.
    """
    days = resolve_days(result.records, owner.timezone, window)
    if not days:
        return IngestResult(0, 0, 0)
    await conn.execute(_q.share_fleet, owner.fleet_id)
    previous = {
        row["charge_date"]: row
        for row in await conn.fetch(_q.previous_figures, owner.vehicle_id, [d.day for d in days])
    }
    rows = await conn.fetch(
        _q.upsert_records,
        owner.vehicle_id,
        owner.employee_id,
        [d.day for d in days],
        [d.home for d in days],
        [d.other for d in days],
        [d.supercharger for d in days],
        [d.total for d in days],
        SOURCE,
        result.request_id,
        result.fetched_at,
        [dumps(d.raw) for d in days],
    )
    # in the answer's day order (unchanged days return no row)
    order = {d.day: n for n, d in enumerate(days)}
    rows = sorted(rows, key=lambda row: order[row["charge_date"]])
    touched: list[UUID] = [row["id"] for row in rows]
    touched_days: list[date] = [row["charge_date"] for row in rows]
    figures = {d.day: d for d in days}
    for row in rows:
        if not row["inserted"]:
            day = figures[row["charge_date"]]
            before = previous.get(day.day)
            await audit.record(
                conn,
                actor=actor,
                fleet_id=owner.fleet_id,
                entity="charge_record",
                entity_id=row["id"],
                action="restate",
                before=dict(before) if before is not None else None,
                after={
                    "home_kwh": day.home,
                    "other_kwh": day.other,
                    "supercharger_kwh": day.supercharger,
                    "total_kwh": day.total,
                    "revision": row["revision"],
                    "request_id": result.request_id,
                },
            )
    if touched_days:
        await _flag(conn, owner.vehicle_id, min(touched_days), max(touched_days))
    priced = await ledger.reconcile_records(conn, touched, actor=actor)
    return IngestResult(len(touched), priced.lines_changed, priced.unpriced)


async def _flag(conn: Connection, vehicle_id: UUID, first: date, last: date) -> None:
    rows = await conn.fetch(_q.recent_days, vehicle_id, first - timedelta(days=_CONTEXT_DAYS), last)
    history: list[DayEnergy] = []
    changed: list[tuple[date, list[str]]] = []  # days whose flags change
    for row in rows:
        day = DayEnergy(
            day=row["charge_date"],
            home=row["home_kwh"],
            other=row["other_kwh"],
            supercharger=row["supercharger_kwh"],
            total=row["total_kwh"],
        )
        if row["charge_date"] >= first:
            flags = flags_for(day, history)
            if flags != list(row["flags"]):
                changed.append((row["charge_date"], list(flags)))
        history.append(day)
    if changed:
        await conn.execute(
            _q.set_flags,
            vehicle_id,
            [day for day, _ in changed],
            [json.dumps(flags) for _, flags in changed],
        )
