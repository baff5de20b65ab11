"""Which vehicles to read next, and when each vehicle should be read again.

One call returns up to 30 days of a vehicle's history, and a day not read within 30 days is
lost. All calls of the application share one bucket (2,880 a day by default). So:

- Priority: the vehicle whose oldest unread day leaves the window first is read first; then
  the one whose data is oldest. A newly connected vehicle's first read comes early.
- Pacing: a vehicle is read again after `max(min_interval, fleet_size / daily capacity)`,
  never later than its window deadline minus a safety margin. Small fleets are read daily;
  large ones are spread so every vehicle is read once per window with days to spare.
- Back-off: transient failures back off exponentially with jitter, a vehicle throttle waits
  exactly its Retry-After, an upstream rate limit waits hours.

The worker selects due rows and orders them in SQL; `is_due` and `priority_key` document the
expressions it must mirror.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, assert_never
from uuid import UUID

from billing.domain.models import SyncState
from billing.domain.window import HISTORY_DAYS, window_deadline

MINUTES_PER_DAY = 1440

# Reads are planned this many days before the window deadline. The slack absorbs retries,
# global pauses and time-zone differences between UTC dates and the car's local days.
SAFETY_MARGIN_DAYS = 5
# Share of the bucket kept out of pacing, for retries of failed calls and manual syncs.
DEFAULT_RESERVE = 0.05
# Even a small fleet gains nothing from more than one read a day: records are daily totals.
MIN_INTERVAL = timedelta(days=1)
# A never-read vehicle ranks as if its deadline were this close: ahead of everything not
# about to lose a day today, behind what is.
NEW_VEHICLE_LEAD = timedelta(days=1)

TRANSIENT_BASE = timedelta(minutes=5)
TRANSIENT_CAP = timedelta(hours=6)
UPSTREAM_LIMIT_BASE = timedelta(hours=2)
UPSTREAM_LIMIT_CAP = timedelta(hours=12)
# Retry-After missing on RATE_LIMIT:VEHICLE: the one field report saw 120 s.
VEHICLE_RETRY_AFTER_DEFAULT = timedelta(seconds=120)
# A successful read is never followed by another within the hour, whatever the inputs.
SUCCESS_FLOOR = timedelta(hours=1)

# What a failed read advises, for `next_read_after_failure`:
# - transient: VEHICLE_STATE, SERVER, UPSTREAM (other than RATE_LIMIT), network, timeout;
# - vehicle_throttle: RATE_LIMIT:VEHICLE;
# - upstream_rate_limit: UPSTREAM:RATE_LIMIT.
# RATE_LIMIT:SMARTCAR_API is not the vehicle's doing: drain the shared bucket
# (`bucket.drain`) and leave the vehicle due. Authentication, permission, owner-action and
# compatibility errors move the vehicle to a state that is never read.
FailureKind = Literal["transient", "vehicle_throttle", "upstream_rate_limit"]

PriorityKey = tuple[date, bool, datetime, UUID]

_NEVER = datetime.min.replace(tzinfo=UTC)
_LAST_READABLE_OFFSET = timedelta(days=HISTORY_DAYS - 1)


@dataclass(frozen=True, slots=True)
class VehicleView:
    """What the planner needs of a `vehicles` row.

    `access_granted_on` is the first day the history can hold; pass the grant date, or the
    row's creation date when it is unknown (as the API does for `window_deadline`). With
    None the planner assumes the full 30 days are readable.
    """

    id: UUID
    sync_state: SyncState
    synced_through: date | None = None
    access_granted_on: date | None = None
    last_success_at: datetime | None = None
    next_sync_at: datetime | None = None
    not_before: datetime | None = None
    consecutive_failures: int = 0


def today_of(now: datetime) -> date:
    """The UTC date of `now`, the calendar the planner counts window days in."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).date()


def is_readable(state: SyncState) -> bool:
    """Whether a vehicle in `state` is ever read; the others wait for a person to act."""
    match state:
        case "new" | "ok" | "retry_later" | "throttled" | "failed":
            return True
        case "needs_reauth" | "owner_action" | "not_capable":
            return False
        case _:
            assert_never(state)


def is_due(view: VehicleView, now: datetime) -> bool:
    """Whether the vehicle may be read at `now`.

    SQL: `sync_state NOT IN ('needs_reauth', 'owner_action', 'not_capable')
    AND coalesce(next_sync_at, '-infinity') <= $now AND coalesce(not_before, '-infinity') <= $now`.
    """
    return (
        is_readable(view.sync_state)
        and (view.next_sync_at is None or view.next_sync_at <= now)
        and (view.not_before is None or view.not_before <= now)
    )


def deadline(view: VehicleView, today: date) -> date:
    """The last date on which a read still returns the vehicle's oldest unread day."""
    first_readable = view.access_granted_on
    if first_readable is None:
        first_readable = today - _LAST_READABLE_OFFSET
    return window_deadline(view.synced_through, first_readable)


def priority_key(view: VehicleView, today: date) -> PriorityKey:
    """Sort key, smallest first: deadline asc, last_success_at asc nulls first, id.

    The deadline is clamped to `today` (a vehicle already losing days is exactly as urgent
    as one whose deadline is today: either loses one more day tomorrow), and a vehicle never
    read ranks no later than `today + 1`. SQL, with
    `d = greatest(coalesce(synced_through + 1, first_readable), first_readable) + 29` and
    `first_readable = coalesce(access_granted_on, $today - 29)`:

        ORDER BY CASE WHEN synced_through IS NULL
                      THEN least(greatest(d, $today), $today + 1)
                      ELSE greatest(d, $today) END,
                 last_success_at ASC NULLS FIRST,
                 id
    """
    due_by = max(deadline(view, today), today)
    if view.synced_through is None:
        due_by = min(due_by, today + NEW_VEHICLE_LEAD)
    last = view.last_success_at
    return (due_by, last is not None, _NEVER if last is None else last, view.id)


def plan(views: Iterable[VehicleView], now: datetime, available_tokens: float) -> list[UUID]:
    """The due vehicles to read now, most urgent first, one per whole available token."""
    limit = max(0, math.floor(available_tokens + 1e-9))
    if limit == 0:
        return []
    today = today_of(now)
    due = (view for view in views if is_due(view, now))
    chosen = heapq.nsmallest(limit, due, key=lambda view: priority_key(view, today))
    return [view.id for view in chosen]


def at_risk(view: VehicleView, today: date, days: int = SAFETY_MARGIN_DAYS) -> bool:
    """Whether fewer than `days` days remain before the vehicle's oldest unread day is lost.

    With the default margin the planner reads a vehicle with `SAFETY_MARGIN_DAYS` to spare,
    so a vehicle at risk is one the budget or the upstream has held back, or one waiting
    for a person (reconnect, owner action).
    """
    if view.sync_state == "not_capable":
        return False  # nothing can ever be read, so nothing is at stake
    return (deadline(view, today) - today).days < days


def daily_capacity(per_minute: float, reserve: float = DEFAULT_RESERVE) -> float:
    """Reads a day the pacing may plan for: the bucket's refill, less the reserve."""
    if per_minute <= 0:
        raise ValueError("the bucket must refill")
    if not 0 <= reserve < 1:
        raise ValueError("the reserve is a share of the budget, in [0, 1)")
    return per_minute * MINUTES_PER_DAY * (1 - reserve)


def longest_interval(margin_days: int = SAFETY_MARGIN_DAYS) -> timedelta:
    """The longest gap between two reads that keeps the margin.

    A read on day D stores days through D - 1 (D is not over yet), so D is the oldest unread
    day and stays readable through D + 29.
    """
    if not 0 <= margin_days < HISTORY_DAYS - 1:
        raise ValueError(f"the safety margin must be within 0..{HISTORY_DAYS - 2} days")
    return timedelta(days=HISTORY_DAYS - 1 - margin_days)


def read_interval(
    fleet_size: int,
    capacity_per_day: float,
    *,
    min_interval: timedelta = MIN_INTERVAL,
    margin_days: int = SAFETY_MARGIN_DAYS,
) -> timedelta:
    """Gap between two reads of a vehicle: min(max(min_interval, N / C days), 29 - margin days)."""
    if capacity_per_day <= 0:
        raise ValueError("the daily capacity must be positive")
    paced = timedelta(days=max(0, fleet_size) / capacity_per_day)
    return min(max(min_interval, paced), longest_interval(margin_days))


def next_read_after_success(
    view: VehicleView,
    now: datetime,
    fleet_size: int,
    capacity_per_day: float,
    *,
    min_interval: timedelta = MIN_INTERVAL,
    margin_days: int = SAFETY_MARGIN_DAYS,
) -> datetime:
    """When to read the vehicle again; `view` is the vehicle as stored after the read.

    `now + read_interval(...)`, but no later than the start (UTC) of the day `margin_days`
    before its new window deadline, and never sooner than an hour.
    """
    interval = read_interval(
        fleet_size, capacity_per_day, min_interval=min_interval, margin_days=margin_days
    )
    return next_read_at(view, now, interval, margin_days=margin_days)


def next_read_at(
    view: VehicleView, now: datetime, interval: timedelta, *, margin_days: int = SAFETY_MARGIN_DAYS
) -> datetime:
    """`next_read_after_success` with the interval already worked out (once per tick)."""
    latest = _start_of(deadline(view, today_of(now)) - timedelta(days=margin_days))
    return max(now + SUCCESS_FLOOR, min(now + interval, latest))


def next_read_after_failure(
    view: VehicleView,
    now: datetime,
    kind: FailureKind,
    retry_after_s: float | None,
    failures: int,
    jitter: float,
) -> datetime:
    """When to try the vehicle again after a failed read (store it as `not_before`).

    `failures` counts consecutive failures including this one; `jitter` is a uniform draw
    from [0, 1) made by the caller. Transient: `min(6 h, 5 min * 2**(failures-1))`, scaled
    into [50 %, 100 %) by the jitter, at least any Retry-After, and never sleeping through
    the last hour of the vehicle's window deadline. Vehicle throttle: exactly Retry-After
    (120 s if absent). Upstream rate limit: `min(12 h, 2 h * 2**(failures-1))` with the same
    jitter, at least any Retry-After.
    """
    if not 0 <= jitter < 1:
        raise ValueError("jitter is a uniform draw from [0, 1)")
    told = None if retry_after_s is None else timedelta(seconds=max(0.0, retry_after_s))
    match kind:
        case "vehicle_throttle":
            return now + (VEHICLE_RETRY_AFTER_DEFAULT if told is None else told)
        case "transient":
            delay = _backoff(TRANSIENT_BASE, TRANSIENT_CAP, failures, jitter)
            if told is not None:
                return now + max(delay, told)
            last_chance = _start_of(deadline(view, today_of(now)) + timedelta(days=1))
            last_chance -= timedelta(hours=1)
            return now + min(delay, max(last_chance - now, TRANSIENT_BASE))
        case "upstream_rate_limit":
            delay = _backoff(UPSTREAM_LIMIT_BASE, UPSTREAM_LIMIT_CAP, failures, jitter)
            return now + (delay if told is None else max(delay, told))
        case _:
            assert_never(kind)


def _backoff(base: timedelta, cap: timedelta, failures: int, jitter: float) -> timedelta:
    # Cap the exponent before multiplying: 2**n of a large failure count would overflow.
    doublings = min(max(failures, 1) - 1, 20)
    ceiling = min(cap, base * (1 << doublings))
    # "Equal jitter": spread over the upper half, so a retry never comes much sooner than
    # the back-off intends, yet vehicles that failed together do not retry together.
    return ceiling * (0.5 + 0.5 * jitter)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
