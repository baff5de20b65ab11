from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from billing.sync.ingest import record_day

PACIFIC_MIDNIGHT = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # 00:00 PDT on 31 March


@pytest.mark.parametrize(
    ("instant", "tz", "expected"),
    [
        # a calendar date sent as midnight UTC stays that date everywhere
        (datetime(2026, 3, 31, tzinfo=UTC), "America/Los_Angeles", date(2026, 3, 31)),
        (datetime(2026, 3, 31, tzinfo=UTC), "Pacific/Tongatapu", date(2026, 3, 31)),
        # an instant (local midnight of the car, the documented epoch form) is placed in the
        # employee's zone
        (PACIFIC_MIDNIGHT, "Europe/Berlin", date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "Pacific/Tongatapu", date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "America/Los_Angeles", date(2026, 3, 31)),
        (PACIFIC_MIDNIGHT, "Pacific/Honolulu", date(2026, 3, 30)),
        # 23:30 local on the last day of a month stays in that month
        (
            datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1))),
            "Europe/Berlin",
            date(2026, 1, 31),
        ),
    ],
)
def test_record_day(instant: datetime, tz: str, expected: date) -> None:
    assert record_day(instant, tz) == expected
