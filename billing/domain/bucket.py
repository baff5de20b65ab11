"""The application-wide Smartcar request budget as a token bucket, in plain arithmetic.

Smartcar meters the whole application with one bucket (120 requests burst, refilled at
2 per minute by default). Every process draws from one shared row (`smartcar_budget`:
`tokens`, `refilled_at`, `paused_until`) with the statements of `billing/db/sql/budget.sql`.
This module is the same arithmetic, step for step and in the same numeric type (Decimal, as
the `numeric` column): `tests/integration/test_budget_equivalence.py` runs random sequences
of settle/take/refund/drain through both and requires the same tokens and grants on every
step. Each function names the statement it mirrors.

Calls in flight: Smartcar counts a call when it arrives, we count it when it is granted.
While calls travel its bucket is the fuller one and stops at the capacity first, so a
settle refills only up to the capacity less the calls in flight.

A drain (Smartcar answered RATE_LIMIT:SMARTCAR_API) empties the bucket and moves
`refilled_at` to the end of the pause: nothing accrues until then, so after a global rate
limit the application resumes at the refill rate, not with whatever a pause would have
accrued. Smartcar says the application is over budget, not how full its bucket is; the
only safe assumption is that it is empty when the pause ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

# The column is numeric(12, 4): a settle truncates to it, never rounding up into a fraction
# of a call Smartcar does not have.
SCALE = Decimal("0.0001")
_ZERO = Decimal(0)
_SIXTY = Decimal(60)
_MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class BucketState:
    """The shared budget row: tokens as of `refilled_at`, and the end of any global pause."""

    tokens: Decimal
    refilled_at: datetime
    paused_until: datetime | None = None


def full(now: datetime, capacity: int) -> BucketState:
    """A bucket that starts with its whole burst available (`ensure_bucket`)."""
    return BucketState(tokens=Decimal(capacity), refilled_at=now)


def rate(per_minute: float | Decimal) -> Decimal:
    """The refill rate as the database receives it (`Decimal(str(per_minute))`)."""
    return per_minute if isinstance(per_minute, Decimal) else Decimal(str(per_minute))


def accrued(state: BucketState, now: datetime, per_minute: float | Decimal) -> Decimal:
    """Tokens plus the refill since `refilled_at`, uncapped; nothing before `refilled_at`."""
    elapsed = max(_ZERO, _seconds(now - state.refilled_at))
    return state.tokens + elapsed * rate(per_minute) / _SIXTY


def settle(
    state: BucketState,
    now: datetime,
    capacity: int,
    per_minute: float | Decimal,
    in_flight: int = 0,
) -> BucketState:
    """Bring the bucket up to `now`, up to the capacity less the calls in flight (`settle_tokens`).

    `refilled_at` only moves forward: a pause (a drain into the future) or a clock slightly
    behind another process accrues nothing and moves nothing back.
    """
    _check(capacity, per_minute)
    room = Decimal(capacity - in_flight)
    tokens = max(_ZERO, min(room, accrued(state, now, per_minute))).quantize(SCALE, ROUND_DOWN)
    return BucketState(
        tokens=tokens, refilled_at=max(state.refilled_at, now), paused_until=state.paused_until
    )


def refill(
    state: BucketState, now: datetime, capacity: int, per_minute: float | Decimal
) -> BucketState:
    """`settle` with no call in flight."""
    return settle(state, now, capacity, per_minute)


def available(
    state: BucketState, now: datetime, capacity: int, per_minute: float | Decimal
) -> Decimal:
    """Tokens that have accrued by `now`, up to `capacity`, pause or not (`peek`)."""
    _check(capacity, per_minute)
    return min(Decimal(capacity), accrued(state, now, per_minute))


def whole(state: BucketState, now: datetime, capacity: int, per_minute: float | Decimal) -> int:
    """Whole calls a take could grant at most: 0 while paused (`whole_tokens`)."""
    if is_paused(state, now):
        return 0
    return math.floor(available(state, now, capacity, per_minute))


def grant(state: BucketState, now: datetime, n: int) -> tuple[int, BucketState]:
    """Take up to `n` whole tokens of a settled bucket; none while paused (`take_tokens`)."""
    if n < 0:
        raise ValueError("cannot take a negative number of tokens")
    taken = 0 if is_paused(state, now) else min(n, math.floor(state.tokens))
    return taken, BucketState(
        tokens=state.tokens - taken,
        refilled_at=state.refilled_at,
        paused_until=state.paused_until,
    )


def take_up_to(
    state: BucketState,
    now: datetime,
    n: int,
    capacity: int,
    per_minute: float | Decimal,
    in_flight: int = 0,
) -> tuple[int, BucketState]:
    """Settle, then take as many whole tokens as are there, at most `n` (`Bucket.take`)."""
    if n < 0:
        raise ValueError("cannot take a negative number of tokens")
    return grant(settle(state, now, capacity, per_minute, in_flight), now, n)


def refund(state: BucketState, n: int, capacity: int) -> BucketState:
    """Give back calls granted but not made, up to the capacity (`refund_tokens`)."""
    if n <= 0:
        return state
    return BucketState(
        tokens=min(Decimal(capacity), state.tokens + n),
        refilled_at=state.refilled_at,
        paused_until=state.paused_until,
    )


def drain(state: BucketState, now: datetime, until: datetime) -> BucketState:
    """Empty the bucket and accrue nothing before `until` (upstream said the app is over budget).

    A drain never shortens a pause already in force (`drain`).
    """
    # refilled_at only moves forward, so this also keeps any longer pause already in force.
    until = max(until, now, state.refilled_at)
    return BucketState(tokens=_ZERO, refilled_at=until, paused_until=until)


def is_paused(state: BucketState, now: datetime) -> bool:
    """Whether a drain is still in force at `now`."""
    return state.paused_until is not None and now < state.paused_until


def _seconds(delta: timedelta) -> Decimal:
    # Exact, as PostgreSQL's extract(epoch FROM interval): whole microseconds.
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) * _MICRO


def _check(capacity: int, per_minute: float | Decimal) -> None:
    if capacity < 1:
        raise ValueError("a bucket holds at least one token")
    if per_minute <= 0:
        raise ValueError("a bucket must refill")
