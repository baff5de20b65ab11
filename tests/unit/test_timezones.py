"""Which day, and so which month, a daily record belongs to: the employee's, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from billing.domain.pricing import (
    Priced,
    TariffRange,
    billing_period,
    charge_day,
    price_day,
    tariff_for_day,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.mark.parametrize(
    ("instant", "tz", "day"),
    [
        # 23:30 on the last day of a month stays in that month, though UTC is already past it
        (utc("2024-01-31T22:30"), "Europe/Berlin", date(2024, 1, 31)),
        (utc("2024-07-01T06:30"), "America/Los_Angeles", date(2024, 6, 30)),
        (utc("2023-12-31T22:30"), "Europe/Berlin", date(2023, 12, 31)),
        # and 00:30 on the first is in the new month, though UTC is still in the old one
        (utc("2024-02-29T23:30"), "Europe/Berlin", date(2024, 3, 1)),
        # Berlin, spring forward (2024-03-31 has 23 hours: 23:00Z on the 30th to 22:00Z)
        (utc("2024-03-30T22:59:59"), "Europe/Berlin", date(2024, 3, 30)),
        (utc("2024-03-30T23:00"), "Europe/Berlin", date(2024, 3, 31)),
        (utc("2024-03-31T01:00"), "Europe/Berlin", date(2024, 3, 31)),  # 03:00 CEST
        (utc("2024-03-31T21:59:59"), "Europe/Berlin", date(2024, 3, 31)),
        (utc("2024-03-31T22:00"), "Europe/Berlin", date(2024, 4, 1)),
        # Berlin, fall back (2024-10-27 has 25 hours: 22:00Z on the 26th to 23:00Z)
        (utc("2024-10-26T21:59:59"), "Europe/Berlin", date(2024, 10, 26)),
        (utc("2024-10-26T22:00"), "Europe/Berlin", date(2024, 10, 27)),
        (utc("2024-10-27T00:30"), "Europe/Berlin", date(2024, 10, 27)),  # 02:30 CEST
        (utc("2024-10-27T01:30"), "Europe/Berlin", date(2024, 10, 27)),  # 02:30 CET
        (utc("2024-10-27T22:59:59"), "Europe/Berlin", date(2024, 10, 27)),
        (utc("2024-10-27T23:00"), "Europe/Berlin", date(2024, 10, 28)),
        # Los Angeles, local midnight as epoch seconds, the upstream's documented form
        (epoch(1710057600), "America/Los_Angeles", date(2024, 3, 10)),  # 00:00 PST, 23 h day
        (epoch(1710140400), "America/Los_Angeles", date(2024, 3, 11)),  # 00:00 PDT
        (epoch(1730617200), "America/Los_Angeles", date(2024, 11, 3)),  # 00:00 PDT, 25 h day
        (epoch(1730707200), "America/Los_Angeles", date(2024, 11, 4)),  # 00:00 PST
        (epoch(1730707199), "America/Los_Angeles", date(2024, 11, 3)),
        # UTC+13: a record stamped in UTC on the 31st is already the 1st for the employee
        (utc("2024-01-31T11:30"), "Pacific/Tongatapu", date(2024, 2, 1)),
        (utc("2024-01-31T10:59:59"), "Pacific/Tongatapu", date(2024, 1, 31)),
        (utc("2024-12-31T11:00"), "Pacific/Apia", date(2025, 1, 1)),
        (utc("2024-12-31T10:59:59"), "Pacific/Apia", date(2024, 12, 31)),
        # the ISO form of the upstream, milliseconds and all
        (
            datetime.fromisoformat("2022-07-10T15:40:27.000Z"),
            "Pacific/Tongatapu",
            date(2022, 7, 11),
        ),
        (
            datetime.fromisoformat("2022-07-10T15:40:27.000Z"),
            "America/Los_Angeles",
            date(2022, 7, 10),
        ),
        # a stamp at UTC midnight is still the evening before in New York
        (utc("2024-03-10T00:00"), "America/New_York", date(2024, 3, 9)),
        # an instant carrying another offset is the same instant
        (
            datetime(2024, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-8))),
            "Europe/Berlin",
            date(2024, 2, 1),
        ),
    ],
)
def test_charge_day_is_the_employees_day(instant: datetime, tz: str, day: date) -> None:
    assert charge_day(instant, tz) == day


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Los_Angeles", "Pacific/Tongatapu"])
def test_every_hour_of_a_local_day_lands_on_that_day(tz: str) -> None:
    zone = ZoneInfo(tz)
    for first in (date(2024, 3, 10), date(2024, 3, 31), date(2024, 10, 27), date(2024, 11, 3)):
        start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
        after = first + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(UTC)
        instant = start
        while instant < end:
            assert charge_day(instant, tz) == first
            instant += timedelta(minutes=30)
        assert charge_day(end, tz) == after


def test_charge_day_refuses_naive_instants_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        charge_day(datetime(2024, 1, 31, 23, 30), "Europe/Berlin")
    with pytest.raises(ValueError, match="IANA"):
        charge_day(utc("2024-01-31T23:30"), "Europe/Atlantis")
    with pytest.raises(ValueError, match="IANA"):
        charge_day(utc("2024-01-31T23:30"), "../etc/passwd")


def test_the_day_decides_the_period_and_the_tariff() -> None:
    january = TariffRange(
        UUID(int=1), None, Decimal("0.30"), "EUR", date(2024, 1, 1), date(2024, 2, 1)
    )
    february = TariffRange(UUID(int=2), None, Decimal("0.40"), "EUR", date(2024, 2, 1), None)
    day = charge_day(utc("2024-01-31T11:30"), "Pacific/Tongatapu")
    priced = price_day(Decimal("10"), day, [january, february])
    assert isinstance(priced, Priced)
    assert (priced.period, priced.tariff_id, priced.amount) == (
        "2024-02",
        february.id,
        Decimal("4.00"),
    )
    # the same instant for a Berlin employee is January, at January's price
    day = charge_day(utc("2024-01-31T11:30"), "Europe/Berlin")
    assert billing_period(day) == "2024-01"
    assert tariff_for_day([january, february], day) == january


EMPLOYEE = UUID(int=7)
FLEET = TariffRange(UUID(int=10), None, Decimal("0.30"), "EUR", date(2024, 1, 1), None)
OWN_OLD = TariffRange(
    UUID(int=11), EMPLOYEE, Decimal("0.25"), "EUR", date(2024, 1, 1), date(2024, 3, 16)
)
OWN_NEW = TariffRange(UUID(int=12), EMPLOYEE, Decimal("0.27"), "EUR", date(2024, 3, 20), None)


@pytest.mark.parametrize(
    ("day", "tariff"),
    [
        (date(2024, 3, 15), OWN_OLD),  # last day of a range ending mid-month
        (date(2024, 3, 16), FLEET),  # valid_to is exclusive: the fleet default fills the gap
        (date(2024, 3, 19), FLEET),
        (date(2024, 3, 20), OWN_NEW),  # the employee's own wins over the fleet default again
        (date(2024, 3, 31), OWN_NEW),
        (date(2023, 12, 31), None),  # before any tariff: unpriced
    ],
)
def test_a_tariff_ending_mid_month_splits_the_days(day: date, tariff: TariffRange | None) -> None:
    assert tariff_for_day([FLEET, OWN_OLD, OWN_NEW], day) == tariff
