"""The application-wide Smartcar request budget as a token bucket, in plain arithmetic.

Smartcar meters the whole application with one bucket (120 requests burst, refilled at
2 per minute by default). Every process draws from one shared row (`smartcar_budget`:
`tokens`, `refilled_at`, `paused_until`), and the worker applies exactly this arithmetic in
one UPDATE, so each rule here has a one-line SQL counterpart:

    elapsed     = greatest(0, extract(epoch FROM $now - refilled_at))
    available   = least($capacity, tokens + elapsed * $per_minute / 60)
    refilled_at = greatest(refilled_at, $now)

    -- take n, all or nothing
    UPDATE smartcar_budget
       SET tokens = <available> - $n, refilled_at = greatest(refilled_at, $now)
     WHERE id = 1 AND <available> >= $n
    RETURNING tokens

    -- drain: Smartcar answered RATE_LIMIT:SMARTCAR_API
    UPDATE smartcar_budget
       SET tokens = 0,
           refilled_at = greatest(refilled_at, $until, $now),
           paused_until = greatest(refilled_at, $until, $now)
     WHERE id = 1

A drain moves `refilled_at` into the future: nothing accrues until then, so after a global
rate limit the application resumes at the refill rate instead of with a full burst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

# Float arithmetic can land a hair below a whole token (e.g. 0.9999999999 after odd
# elapsed times); without this tolerance a caller could wait an extra tick for nothing.
# The SQL side uses numeric and needs none.
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class BucketState:
    """The shared budget row: tokens as of `refilled_at`, and the end of any global pause."""

    tokens: float
    refilled_at: datetime
    paused_until: datetime | None = None


def full(now: datetime, capacity: int) -> BucketState:
    """A bucket that starts with its whole burst available."""
    return BucketState(tokens=float(capacity), refilled_at=now)


def refill(state: BucketState, now: datetime, capacity: int, per_minute: float) -> BucketState:
    """The state with the tokens accrued between `refilled_at` and `now`, up to `capacity`."""
    _check(capacity, per_minute)
    if now <= state.refilled_at:
        # Paused (drained into the future) or a clock slightly behind another process.
        return state
    elapsed_s = (now - state.refilled_at).total_seconds()
    tokens = min(float(capacity), state.tokens + elapsed_s * per_minute / 60)
    return BucketState(tokens=tokens, refilled_at=now, paused_until=state.paused_until)


def available(state: BucketState, now: datetime, capacity: int, per_minute: float) -> float:
    """Tokens that could be taken at `now`."""
    return refill(state, now, capacity, per_minute).tokens


def try_take(
    state: BucketState, now: datetime, n: int, capacity: int, per_minute: float
) -> tuple[bool, BucketState]:
    """Take `n` tokens, all or nothing; the new state is refilled either way."""
    if n < 0:
        raise ValueError("cannot take a negative number of tokens")
    current = refill(state, now, capacity, per_minute)
    if current.tokens + EPSILON < n:
        return False, current
    return True, _spend(current, n)


def take_up_to(
    state: BucketState, now: datetime, n: int, capacity: int, per_minute: float
) -> tuple[int, BucketState]:
    """Take as many whole tokens as are available, at most `n`; returns how many were taken."""
    if n < 0:
        raise ValueError("cannot take a negative number of tokens")
    current = refill(state, now, capacity, per_minute)
    taken = min(n, math.floor(current.tokens + EPSILON))
    return taken, _spend(current, taken)


def time_until(
    state: BucketState, n: int, now: datetime, capacity: int, per_minute: float
) -> timedelta:
    """How long until `n` tokens are available (zero if they are now)."""
    _check(capacity, per_minute)
    if n > capacity:
        raise ValueError(f"{n} tokens never fit in a bucket of {capacity}")
    start = max(now, state.refilled_at)
    current = refill(state, start, capacity, per_minute)
    missing = n - current.tokens
    if missing <= EPSILON:
        return start - now
    return (start - now) + timedelta(seconds=missing * 60 / per_minute)


def drain(state: BucketState, now: datetime, until: datetime) -> BucketState:
    """Empty the bucket and accrue nothing before `until` (upstream said the app is over budget).

    A drain never shortens a pause already in force.
    """
    # refilled_at only moves forward, so this also keeps any longer pause already in force.
    until = max(until, now, state.refilled_at)
    return BucketState(tokens=0.0, refilled_at=until, paused_until=until)


def is_paused(state: BucketState, now: datetime) -> bool:
    """Whether a drain is still in force at `now`."""
    return state.paused_until is not None and now < state.paused_until


def _spend(state: BucketState, n: int) -> BucketState:
    # Never store a negative remainder caused by the tolerance above (the column is >= 0).
    return BucketState(
        tokens=max(0.0, state.tokens - n),
        refilled_at=state.refilled_at,
        paused_until=state.paused_until,
    )


def _check(capacity: int, per_minute: float) -> None:
    if capacity < 1:
        raise ValueError("a bucket holds at least one token")
    if per_minute <= 0:
        raise ValueError("a bucket must refill")
