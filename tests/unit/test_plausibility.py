from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.domain.plausibility import DayEnergy, Flag, Limits, flags_for

DAY = date(2024, 5, 15)


def energy(
    home: str = "0",
    other: str = "0",
    supercharger: str = "0",
    total: str | None = None,
    *,
    day: date = DAY,
) -> DayEnergy:
    parts = Decimal(home) + Decimal(other) + Decimal(supercharger)
    return DayEnergy(
        day,
        Decimal(home),
        Decimal(other),
        Decimal(supercharger),
        Decimal(total) if total else parts,
    )


def days_before(n: int, home: str, other: str) -> list[DayEnergy]:
    return [energy(home, other, day=DAY - timedelta(days=i)) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("record", "flags"),
    [
        (energy("10", "5", "20"), []),
        (energy(), []),
        # the parts may miss the total by the upstream's rounding
        (energy("10.01", "5.02", "0.01", "15.0"), []),
        (energy("10", "5", "0", "15.05"), []),
        (energy("10", "5", "0", "15.0501"), ["total_mismatch"]),
        (energy("10", "5", "0", "14.9"), ["total_mismatch"]),
        (energy("0", "0", "0", "3"), ["total_mismatch"]),
        (energy("250", "0", "0"), []),
        (energy("200", "30", "20.01"), ["exceeds_daily_capacity"]),
        (energy("10", "0", "0", "251"), ["exceeds_daily_capacity", "total_mismatch"]),
        (energy("300", "0", "0", "30"), ["exceeds_daily_capacity", "total_mismatch"]),
    ],
)
def test_flags_of_one_day(record: DayEnergy, flags: list[Flag]) -> None:
    assert flags_for(record, []) == flags


@pytest.mark.parametrize(
    ("record", "recent", "suspected"),
    [
        # five charging days in a row with home at 0 and other above 0, this one included
        (energy("0", "12"), days_before(4, "0", "9"), True),
        (energy("0", "12"), days_before(3, "0", "9"), False),
        (energy("0", "12"), days_before(10, "0", "9"), True),
        # one home charge breaks the run
        (
            energy("0", "12"),
            [*days_before(2, "0", "9"), energy("5", "0", day=DAY - timedelta(days=3))]
            + [energy("0", "9", day=DAY - timedelta(days=i)) for i in (4, 5, 6)],
            False,
        ),
        # a day of home charging is not suspicious whatever came before
        (energy("7", "12"), days_before(10, "0", "9"), False),
        # nor a day without other charging
        (energy("0", "0", "30"), days_before(10, "0", "9"), False),
        # days without any charging (or only Supercharger) neither extend nor break the run
        (
            energy("0", "12"),
            [energy("0", "9", day=DAY - timedelta(days=i)) for i in (2, 4, 6, 8)]
            + [energy("0", "0", day=DAY - timedelta(days=3))]
            + [energy("0", "0", "40", day=DAY - timedelta(days=5))],
            True,
        ),
        # days after the record do not count, nor a stale copy of the same day
        (
            energy("0", "12"),
            [energy("0", "9", day=DAY + timedelta(days=i)) for i in range(1, 6)]
            + [energy("5", "0", day=DAY)],
            False,
        ),
        (energy("0", "12"), [energy("5", "0", day=DAY), *days_before(4, "0", "9")], True),
    ],
)
def test_home_missing_suspected(
    record: DayEnergy, recent: list[DayEnergy], suspected: bool
) -> None:
    expected: list[Flag] = ["home_missing_suspected"] if suspected else []
    assert flags_for(record, recent) == expected
    assert flags_for(record, list(reversed(recent))) == expected  # any order


def test_limits_are_parameters() -> None:
    record = energy("0", "120", "0", "119.9")
    recent = days_before(2, "0", "9")
    assert flags_for(record, recent) == ["total_mismatch"]
    strict = Limits(
        total_tolerance_kwh=Decimal("0.2"), daily_capacity_kwh=Decimal(100), home_missing_days=3
    )
    assert flags_for(record, recent, strict) == ["exceeds_daily_capacity", "home_missing_suspected"]


def test_all_flags_at_once_come_sorted() -> None:
    assert flags_for(energy("0", "400", "0", "10"), days_before(4, "0", "9")) == [
        "exceeds_daily_capacity",
        "home_missing_suspected",
        "total_mismatch",
    ]
