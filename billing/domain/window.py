"""The 30-day history window of the charge-records endpoint."""

from __future__ import annotations

from datetime import date, timedelta

HISTORY_DAYS = 30


def oldest_unread_day(synced_through: date | None, first_readable: date) -> date:
    """The first day not yet stored: the day after the last synced one, or the first readable."""
    if synced_through is None:
        return first_readable
    return max(synced_through + timedelta(days=1), first_readable)


def window_deadline(synced_through: date | None, first_readable: date) -> date:
    """The last date on which a read still returns the oldest unread day."""
    return oldest_unread_day(synced_through, first_readable) + timedelta(days=HISTORY_DAYS - 1)
