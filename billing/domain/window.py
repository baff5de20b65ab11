"""The 30-day history window of the charge-records endpoint."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HISTORY_DAYS = 30


def oldest_unread_day(synced_through: date | None, first_readable: date) -> date:
    """The first day not yet stored: the day after the last synced one, or the first readable."""
    if synced_through is None:
        return first_readable
    return max(synced_through + timedelta(days=1), first_readable)


def window_deadline(synced_through: date | None, first_readable: date) -> date:
    """The last date on which a read still returns the oldest unread day."""
    return oldest_unread_day(synced_through, first_readable) + timedelta(days=HISTORY_DAYS - 1)


def last_ended_day(now: datetime, tz: str) -> date:
    """The last calendar day that has ended, at `now`, in the IANA zone `tz`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{tz!r} is not an IANA time zone name") from None
    return now.astimezone(zone).date() - timedelta(days=1)
