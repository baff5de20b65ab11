"""A record's day never moves: the day a UNIX midnight or an ISO date names, for any employee."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.record_day import OFFSETS, midnight_offsets, record_day

ZONES = sorted(available_timezones())
PACIFIC_MIDNIGHT = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # 00:00 PDT on 31 March
# Zones whose clocks change, some of them at midnight itself (Santiago, Havana, Asuncion,
# Beirut) or by 30 minutes (Lord Howe), or at :45 offsets (Chatham).
DST_ZONES = (
    "Europe/Berlin",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "Asia/Beirut",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Europe/London",
)


def unix(day: date, tz: str) -> datetime:
    """The car's local midnight of `day` as UNIX seconds would carry it: an instant in UTC."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def offset_minutes(instant: datetime, tz: str) -> int:
    offset = instant.astimezone(ZoneInfo(tz)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


@cache
def dst_days() -> list[tuple[str, date]]:
    """Every day 2013-2030 on which one of DST_ZONES changes its clocks, and the day after."""
    found = []
    for tz in DST_ZONES:
        day = date(2013, 1, 1)
        while day < date(2031, 1, 1):
            after = day + timedelta(days=1)
            if offset_minutes(unix(day, tz), tz) != offset_minutes(unix(after, tz), tz):
                found += [(tz, day), (tz, after)]
            day = after
    return found


def expected_unix_day(day: date, car: str, employee: str) -> date:
    """What the rule says of the car's midnight of `day`, derived from the offsets alone."""
    instant = unix(day, car)
    car_offset = offset_minutes(instant, car)
    employee_offset = offset_minutes(instant, employee)
    twin = car_offset + 1440 if car_offset < employee_offset else car_offset - 1440
    if abs(car_offset - employee_offset) < 720 or twin not in OFFSETS:
        return day
    if abs(car_offset - employee_offset) == 720:
        return day if car_offset < twin else day - timedelta(days=1)  # tie: the western one
    return day + timedelta(days=1) if twin > car_offset else day - timedelta(days=1)


@pytest.mark.parametrize(
    ("instant", "tz", "stated", "expected"),
    [
        # a calendar date sent as midnight UTC stays that date everywhere
        (datetime(2026, 3, 31, tzinfo=UTC), "America/Los_Angeles", True, date(2026, 3, 31)),
        (datetime(2026, 3, 31, tzinfo=UTC), "Pacific/Tongatapu", True, date(2026, 3, 31)),
        (datetime(2026, 3, 31, tzinfo=UTC), "America/Los_Angeles", False, date(2026, 3, 31)),
        # the car's local midnight as UNIX seconds names the car's day, for every employee
        (PACIFIC_MIDNIGHT, "Europe/Berlin", False, date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "Pacific/Tongatapu", False, date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "America/Los_Angeles", False, date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "Pacific/Honolulu", False, date(2026, 3, 31)),  # was moved to the 30th
        # the documented example: 2023-08-16, midnight in US Pacific daylight time
        (datetime.fromtimestamp(1692169200, UTC), "Asia/Tokyo", False, date(2023, 8, 16)),
        (datetime.fromtimestamp(1692169200, UTC), "Europe/Berlin", False, date(2023, 8, 16)),
        # 11:00 UTC is midnight at -11:00 and at +13:00: the one nearer the employee wins
        (datetime(2026, 1, 10, 11, tzinfo=UTC), "Pacific/Pago_Pago", False, date(2026, 1, 10)),
        (datetime(2026, 1, 10, 11, tzinfo=UTC), "Pacific/Tongatapu", False, date(2026, 1, 11)),
        # 12:00 UTC, employee at UTC: -12:00 and +12:00 are as near; the western one
        (datetime(2026, 1, 10, 12, tzinfo=UTC), "UTC", False, date(2026, 1, 10)),
        # :45 and :30 offsets are offsets too (Nepal, India)
        (datetime(2026, 1, 9, 18, 15, tzinfo=UTC), "America/New_York", False, date(2026, 1, 10)),
        (datetime(2026, 1, 9, 18, 30, tzinfo=UTC), "America/New_York", False, date(2026, 1, 10)),
        # another time of day is placed in the employee's zone
        (datetime(2026, 1, 10, 18, 20, tzinfo=UTC), "Asia/Tokyo", False, date(2026, 1, 11)),
        (datetime(2026, 1, 10, 7, 0, 1, tzinfo=UTC), "Europe/Berlin", False, date(2026, 1, 10)),
        # 23:30 local on the last day of a month stays in that month
        (
            datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1))),
            "Europe/Berlin",
            True,
            date(2026, 1, 31),
        ),
        # an ISO midnight at its stated offset is that day, even for an employee far away
        (
            datetime(2026, 1, 31, tzinfo=timezone(timedelta(hours=9))),
            "America/Los_Angeles",
            True,
            date(2026, 1, 31),
        ),
        (
            datetime.fromisoformat("2022-07-10T15:40:27.000Z"),
            "Pacific/Tongatapu",
            True,
            date(2022, 7, 11),
        ),
    ],
)
def test_record_day(instant: datetime, tz: str, stated: bool, expected: date) -> None:
    assert record_day(instant, tz, offset_stated=stated) == expected


def test_offsets_cover_every_offset_in_use_since_2012() -> None:
    used = set()
    for tz in ZONES:
        instant = datetime(2012, 1, 1, tzinfo=UTC)
        while instant.year < 2038:
            used.add(offset_minutes(instant, tz))
            instant += timedelta(days=30)
    assert used <= OFFSETS
    assert min(OFFSETS) == -12 * 60
    assert max(OFFSETS) == 14 * 60


def test_a_berlin_car_keeps_its_days_for_a_los_angeles_employee() -> None:
    days = [date(2026, 3, 10) + timedelta(days=n) for n in range(30)]  # across Berlin's DST
    named = [
        record_day(unix(d, "Europe/Berlin"), "America/Los_Angeles", offset_stated=False)
        for d in days
    ]
    assert named == days
    # placed in the employee's zone instead, every one of them lands a day early
    placed = [
        unix(d, "Europe/Berlin").astimezone(ZoneInfo("America/Los_Angeles")).date() for d in days
    ]
    assert sum(p != d for p, d in zip(placed, days, strict=True)) == 30


def test_refuses_naive_instants_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        record_day(datetime(2024, 1, 31), "Europe/Berlin", offset_stated=False)
    with pytest.raises(ValueError, match="IANA"):
        record_day(PACIFIC_MIDNIGHT, "Europe/Atlantis", offset_stated=False)


zones = st.sampled_from(ZONES)
days = st.dates(date(2013, 1, 1), date(2037, 12, 31))


def _other(employee: str, car: str) -> str:
    return employee if employee != car else "Asia/Kolkata" if car != "Asia/Kolkata" else "UTC"


@settings(max_examples=300, deadline=None)
@given(car=zones, employee=zones, first=days)
def test_a_unix_midnight_names_the_cars_day_for_any_employee(
    car: str, employee: str, first: date
) -> None:
    employee = _other(employee, car)
    for n in range(40):  # 40 consecutive days per pair: 12,000 cases
        day = first + timedelta(days=n)
        got = record_day(unix(day, car), employee, offset_stated=False)
        assert got == expected_unix_day(day, car, employee), (car, employee, day)


@settings(max_examples=25, deadline=None)
@given(employee=zones)
def test_dst_days_keep_their_day(employee: str) -> None:
    for car, day in dst_days():  # about 1,000 days on which clocks change, or the day after
        other = _other(employee, car)
        instant = unix(day, car)
        got = record_day(instant, other, offset_stated=False)
        assert got == expected_unix_day(day, car, other), (car, other, day)
        # an employee within 12 hours of the car always gets the car's day
        if abs(offset_minutes(instant, car) - offset_minutes(instant, other)) < 720:
            assert got == day


@settings(max_examples=2000, deadline=None)
@given(
    employee=zones,
    seconds=st.integers(
        int(datetime(2013, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2038, 1, 1, tzinfo=UTC).timestamp()),
    ),
    micros=st.integers(0, 999_999),
)
def test_another_time_of_day_is_the_employees_day(employee: str, seconds: int, micros: int) -> None:
    instant = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=micros)
    got = record_day(instant, employee, offset_stated=False)
    if midnight_offsets(instant):
        assert got in {instant.date() + timedelta(days=n) for n in (-1, 0, 1)}
    else:
        assert got == instant.astimezone(ZoneInfo(employee)).date()


@settings(max_examples=1000, deadline=None)
@given(
    employee=zones,
    day=days,
    offset=st.sampled_from(sorted(OFFSETS)),
    clock=st.times(),
)
def test_an_iso_date_is_its_own_day_at_its_stated_offset(
    employee: str, day: date, offset: int, clock: time
) -> None:
    stated = timezone(timedelta(minutes=offset))
    midnight = datetime.combine(day, time(), tzinfo=stated)
    assert record_day(midnight, employee, offset_stated=True) == day
    later = datetime.combine(day, clock, tzinfo=stated)
    if clock != time():
        expected = later.astimezone(ZoneInfo(employee)).date()
        assert record_day(later, employee, offset_stated=True) == expected
