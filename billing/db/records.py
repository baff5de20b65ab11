"""A read's charge records: upserting one vehicle's days and setting their flags, in the
caller's transaction. Rows leave as `WrittenDay`s and `PreviousDay`s."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from billing.db.pool import Connection, dumps
from billing.db.queries import queries
from billing.domain.answer import DayRecord

_q = queries("records")
SOURCE = "smartcar:v2"


@dataclass(frozen=True, slots=True)
class VehicleOwner:
    vehicle_id: UUID
    employee_id: UUID
    fleet_id: UUID
    timezone: str


@dataclass(frozen=True, slots=True)
class WrittenDay:
    """A day the upsert inserted or restated, with what pricing reads of it."""

    id: UUID
    charge_date: date
    home_kwh: Decimal
    revision: int
    inserted: bool
    request_id: str | None
    fetched_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class PreviousDay:
    """A stored day as it was before the upsert."""

    id: UUID
    charge_date: date
    home_kwh: Decimal
    other_kwh: Decimal
    supercharger_kwh: Decimal
    total_kwh: Decimal
    revision: int
    flags: list[str]


@dataclass(frozen=True, slots=True)
class StoredDays:
    written: list[WrittenDay]  # in day order (unchanged days are not written)
    before: dict[date, PreviousDay]  # the days and their context as they were


async def upsert_days(
    conn: Connection,
    owner: VehicleOwner,
    days: Sequence[DayRecord],
    *,
    request_id: str | None,
    fetched_at: datetime,
    context_days: int,
) -> StoredDays:
    """Upsert `days` (accepted, in day order, at least one) in one statement, holding off
    tariff changes of the fleet; with the days as they were, from `context_days` before the
    first one to the last."""
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
        request_id,
        fetched_at,
        [dumps(d.raw) for d in days],
        owner.fleet_id,
        days[0].day - timedelta(days=context_days),
        days[-1].day,
    )
    written: list[WrittenDay] = []
    before: dict[date, PreviousDay] = {}
    for row in rows:
        if row["written"]:
            written.append(
                WrittenDay(
                    row["id"],
                    row["charge_date"],
                    row["home_kwh"],
                    row["revision"],
                    row["inserted"],
                    row["request_id"],
                    row["fetched_at"],
                    row["source"],
                )
            )
        else:
            before[row["charge_date"]] = PreviousDay(
                row["id"],
                row["charge_date"],
                row["home_kwh"],
                row["other_kwh"],
                row["supercharger_kwh"],
                row["total_kwh"],
                row["revision"],
                list(row["flags"]),
            )
    written.sort(key=lambda day: day.charge_date)
    return StoredDays(written, before)


async def set_flags(
    conn: Connection, vehicle_id: UUID, changed: Sequence[tuple[date, Sequence[str]]]
) -> None:
    """Set the flags of the vehicle's days in `changed` (day, flags), in one statement."""
    await conn.execute(
        _q.set_flags,
        vehicle_id,
        [day for day, _ in changed],
        [json.dumps(list(flags)) for _, flags in changed],
    )
