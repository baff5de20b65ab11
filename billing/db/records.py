"""Storing a read's charge records and pricing them, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
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
    return await store_days(conn, owner, days, result, actor=actor)


async def store_days(
    conn: Connection,
    owner: VehicleOwner,
    days: Sequence[DayRecord],
    result: ChargeRecordsResult,
    *,
    actor: str,
) -> IngestResult:
    """`store_records` of days already accepted (in day order, one per day)."""
    if not days:
        return IngestResult(0, 0, 0)
    rows = await conn.fetch(
        _q.store_days,
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
        owner.fleet_id,
        days[0].day - timedelta(days=_CONTEXT_DAYS),
        days[-1].day,
    )
    before = {row["charge_date"]: row for row in rows if not row["written"]}
    # in the answer's day order (unchanged days return no row)
    written = sorted((row for row in rows if row["written"]), key=lambda row: row["charge_date"])
    if not written:
        return IngestResult(0, 0, 0)
    figures = {d.day: d for d in days}
    restated = [
        audit.Event(
            owner.fleet_id,
            "charge_record",
            row["id"],
            "restate",
            _previous(before.get(row["charge_date"])),
            {
                "home_kwh": figures[row["charge_date"]].home,
                "other_kwh": figures[row["charge_date"]].other,
                "supercharger_kwh": figures[row["charge_date"]].supercharger,
                "total_kwh": figures[row["charge_date"]].total,
                "revision": row["revision"],
                "request_id": result.request_id,
            },
        )
        for row in written
        if not row["inserted"]
    ]
    if restated:
        await audit.record_many(conn, actor=actor, events=restated)
    await _flag(conn, owner, written, before, figures)
    pricing = [
        {
            "id": row["id"],
            "vehicle_id": owner.vehicle_id,
            "employee_id": owner.employee_id,
            "fleet_id": owner.fleet_id,
            "charge_date": row["charge_date"],
            "home_kwh": row["home_kwh"],
            "revision": row["revision"],
            "request_id": row["request_id"],
            "fetched_at": row["fetched_at"],
            "source": row["source"],
        }
        for row in written
    ]
    new = frozenset(row["id"] for row in written if row["inserted"])
    priced = await ledger.reconcile_rows(conn, pricing, actor=actor, new=new)
    return IngestResult(len(written), priced.lines_changed, priced.unpriced)


def _previous(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row["id"],
        "charge_date": row["charge_date"],
        "home_kwh": row["home_kwh"],
        "other_kwh": row["other_kwh"],
        "supercharger_kwh": row["supercharger_kwh"],
        "total_kwh": row["total_kwh"],
        "revision": row["revision"],
    }


async def _flag(
    conn: Connection,
    owner: VehicleOwner,
    written: Sequence[Any],
    before: dict[date, Any],
    figures: dict[date, DayRecord],
) -> None:
    """Flag the written days, each against the days before it as they now are."""
    first, last = written[0]["charge_date"], written[-1]["charge_date"]
    now_written = {row["charge_date"] for row in written}
    history: list[DayEnergy] = []
    changed: list[tuple[date, list[str]]] = []  # days whose flags change
    for day in sorted(
        now_written.union(d for d in before if d >= first - timedelta(_CONTEXT_DAYS))
    ):
        if day > last:
            break
        if day in now_written:
            d = figures[day]
            energy = DayEnergy(day, d.home, d.other, d.supercharger, d.total)
        else:
            row = before[day]
            energy = DayEnergy(
                day, row["home_kwh"], row["other_kwh"], row["supercharger_kwh"], row["total_kwh"]
            )
        if day >= first:
            flags = flags_for(energy, history)
            stored = before[day]["flags"] if day in before else []
            if flags != list(stored):
                changed.append((day, list(flags)))
        history.append(energy)
    if changed:
        await conn.execute(
            _q.set_flags,
            owner.vehicle_id,
            [day for day, _ in changed],
            [json.dumps(flags) for _, flags in changed],
        )
