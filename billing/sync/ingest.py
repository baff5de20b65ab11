"""Storing a read's charge records and pricing them, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from billing.db import audit, ledger
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.plausibility import DayEnergy, flags_for
from billing.domain.pricing import charge_day
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


@dataclass(frozen=True, slots=True)
class _Day:
    charge_date: date
    home: Decimal
    other: Decimal
    supercharger: Decimal
    total: Decimal
    raw: Any


def record_day(day_start: datetime, timezone: str) -> date:
    """The day a daily record belongs to, in the employee's time zone.

    A value of exactly midnight UTC carries a calendar date and no time of day (the API's
    ISO form, or a plain date): moving it into a zone west of UTC would bill it a day early.
    """
    utc = day_start.astimezone(UTC)
    if utc.time() == time(0):
        return utc.date()
    return charge_day(day_start, timezone)


def _days(records: Sequence[UpstreamChargeRecord], timezone: str) -> list[_Day]:
    """One entry per local day; two upstream records on the same local day are added up."""
    merged: dict[date, _Day] = {}
    for record in records:
        day = record_day(record.day_start, timezone)
        seen = merged.get(day)
        if seen is None:
            merged[day] = _Day(
                day,
                record.home_kwh,
                record.other_kwh,
                record.supercharger_kwh,
                record.total_kwh,
                record.raw,
            )
        else:
            merged[day] = _Day(
                day,
                seen.home + record.home_kwh,
                seen.other + record.other_kwh,
                seen.supercharger + record.supercharger_kwh,
                seen.total + record.total_kwh,
                {"merged": [*seen.raw.get("merged", [seen.raw]), record.raw]},
            )
    return [merged[day] for day in sorted(merged)]


async def store_records(
    conn: Connection, owner: VehicleOwner, result: ChargeRecordsResult, *, actor: str
) -> IngestResult:
    """Upsert the read's days (one row per vehicle and day), flag them and price them."""
    days = _days(result.records, owner.timezone)
    if not days:
        return IngestResult(0, 0, 0)
    await conn.execute(_q.share_fleet, owner.fleet_id)
    previous = {
        row["charge_date"]: row
        for row in await conn.fetch(
            _q.previous_figures, owner.vehicle_id, [d.charge_date for d in days]
        )
    }
    touched: list[UUID] = []
    touched_days: list[date] = []
    for day in days:
        row = await conn.fetchrow(
            _q.upsert_record,
            owner.vehicle_id,
            owner.employee_id,
            day.charge_date,
            day.home,
            day.other,
            day.supercharger,
            day.total,
            day.raw,
            SOURCE,
            result.request_id,
            result.fetched_at,
        )
        if row is None:
            continue  # unchanged day
        touched.append(row["id"])
        touched_days.append(day.charge_date)
        if not row["inserted"]:
            before = previous.get(day.charge_date)
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
                await conn.execute(_q.set_flags, vehicle_id, row["charge_date"], flags)
        history.append(day)
