"""Which calendar day a daily charge record names.

Smartcar marks each daily record with a `date`: UNIX seconds (documented as local midnight of
the car, e.g. `1692169200` is 2023-08-16 00:00 in US Pacific daylight time) or an ISO-8601
string. A daily record names a calendar day, and that day must never move because the
employee lives in another zone, or the line moves across a month end or a tariff change.

The rule:

- UNIX seconds that are exactly midnight at some UTC offset in use (`OFFSETS`, -12:00 …
  +14:00, the :30 and :45 ones included) name that calendar day in that offset. Between
  10:00 and 12:00 UTC two offsets fit, 24 hours apart (say -11:00 and +13:00); the one
  nearest the employee's zone's offset at that instant wins, the western one on a tie (it is
  the day the instant falls on for the employee).
- An ISO string names its own day when it is midnight at the offset it states (a bare date
  is midnight; a string without an offset is read as UTC).
- Any other instant (another time of day) is placed in the employee's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.domain.pricing import charge_day

_DAY_S: Final = 86_400

# Every UTC offset (minutes) an IANA zone has used since 2012: the whole hours -12 … +14 and
# the fractional ones (Newfoundland, Venezuela until 2016, Iran, Afghanistan, India, Nepal,
# Myanmar, North Korea 2015-18, Eucla, Adelaide/Darwin, Lord Howe, Norfolk until 2015,
# Chatham). tests/unit/test_record_day.py checks the list against the installed tzdata.
OFFSETS: Final = frozenset(
    {h * 60 for h in range(-12, 15)}
    | {-570, -270, -210, -150, 210, 270, 330, 345, 390, 510, 525, 570, 630, 690, 765, 825}
)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{tz!r} is not an IANA time zone name") from None


def _offset_minutes(instant: datetime) -> int:
    offset = instant.utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def midnight_offsets(instant: datetime) -> list[int]:
    """The offsets (minutes, west first) at which `instant` is exactly 00:00:00."""
    utc = instant.astimezone(UTC)
    if utc.microsecond:
        return []
    second_of_day = utc.hour * 3600 + utc.minute * 60 + utc.second
    return sorted(o for o in OFFSETS if (second_of_day + o * 60) % _DAY_S == 0)


def record_day(instant: datetime, employee_tz: str, *, offset_stated: bool) -> date:
    """The calendar day a record dated `instant` names, for an employee in `employee_tz`.

    `offset_stated` is True for the ISO form (the string says its offset, `instant` carries
    it) and False for UNIX seconds (no offset is sent; `instant` is in any zone).
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; the day would be a guess")
    zone = _zone(employee_tz)
    if offset_stated:
        if (instant.hour, instant.minute, instant.second, instant.microsecond) == (0, 0, 0, 0):
            return instant.date()
        return charge_day(instant, employee_tz)
    candidates = midnight_offsets(instant)
    if not candidates:
        return charge_day(instant, employee_tz)
    employee = _offset_minutes(instant.astimezone(zone))
    # min() keeps the first of equals: candidates are sorted west first.
    best = min(candidates, key=lambda offset: abs(offset - employee))
    return (instant.astimezone(UTC) + timedelta(minutes=best)).date()
