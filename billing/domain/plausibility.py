"""Data-quality flags on charge records: stored with the record and filterable, never blocking.

Negative or non-numeric values never get this far: parsing rejects them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Flag = Literal["exceeds_daily_capacity", "home_missing_suspected", "total_mismatch"]


@dataclass(frozen=True, slots=True)
class DayEnergy:
    """One vehicle's charging on one day, in kWh, as the upstream reported it."""

    day: date
    home: Decimal
    other: Decimal
    supercharger: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Limits:
    """Thresholds of the flags.

    `total_tolerance_kwh`: the upstream reports each figure rounded, so the parts may miss
    the total by a few hundredths without anything being wrong.
    `daily_capacity_kwh`: more energy than a car can plausibly take in a day. The largest
    passenger-car batteries hold about 200 kWh and most company cars 60-100 kWh, so 250 kWh
    is more than two full charges of a typical car; a flagged record is only marked for a
    look, so the rare very long road trip costs a glance, not a payment.
    `home_missing_days`: this many charging days in a row with home at 0 and other above 0
    suggest the car has no Home address set, so home charging is counted as other.
    """

    total_tolerance_kwh: Decimal = Decimal("0.05")
    daily_capacity_kwh: Decimal = Decimal(250)
    home_missing_days: int = 5


def flags_for(
    record: DayEnergy, recent: Sequence[DayEnergy], limits: Limits | None = None
) -> list[Flag]:
    """The flags of `record`, sorted; `recent` are the same vehicle's other days (any order).

    Days after `record.day` are ignored, so a record's flags do not depend on what arrives
    later. Days with no charging at all neither extend nor break a run of missing home kWh.
    """
    limits = limits or Limits()
    flags: set[Flag] = set()
    parts = record.home + record.other + record.supercharger
    if abs(parts - record.total) > limits.total_tolerance_kwh:
        flags.add("total_mismatch")
    if max(parts, record.total) > limits.daily_capacity_kwh:
        flags.add("exceeds_daily_capacity")
    if _home_missing_run(record, recent) >= limits.home_missing_days:
        flags.add("home_missing_suspected")
    return sorted(flags)


def _home_missing_run(record: DayEnergy, recent: Sequence[DayEnergy]) -> int:
    """Charging days in a row, ending with `record`, with home at 0 and other above 0."""
    by_day = {d.day: d for d in recent if d.day < record.day}
    run = 0
    for energy in [record, *(by_day[day] for day in sorted(by_day, reverse=True))]:
        if energy.home > 0 or (energy is record and energy.other <= 0):
            break
        if energy.other > 0:
            run += 1
    return run
