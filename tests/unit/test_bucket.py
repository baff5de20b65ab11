"""The shared request budget: a token bucket of 120 tokens refilled at 2 per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.bucket import (
    BucketState,
    available,
    drain,
    full,
    is_paused,
    refill,
    take_up_to,
    time_until,
    try_take,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAP = 120
RATE = 2.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def empty() -> BucketState:
    return BucketState(tokens=0.0, refilled_at=T0)


def test_full_bucket_grants_the_burst_then_refuses() -> None:
    state = full(T0, CAP)
    granted, state = take_up_to(state, T0, 500, CAP, RATE)
    assert granted == CAP
    ok, state = try_take(state, T0, 1, CAP, RATE)
    assert not ok
    assert state.tokens == 0


def test_refills_at_the_rate_and_stops_at_capacity() -> None:
    assert available(empty(), at(30), CAP, RATE) == pytest.approx(1.0)
    assert available(empty(), at(45 * 60), CAP, RATE) == pytest.approx(90.0)
    assert available(empty(), at(24 * 3600), CAP, RATE) == CAP


def test_refill_moves_the_clock_forward_only() -> None:
    later = refill(empty(), at(60), CAP, RATE)
    assert later.refilled_at == at(60)
    # Another process's clock slightly behind: nothing accrues, nothing goes back.
    assert refill(later, at(50), CAP, RATE) == later


def test_try_take_is_all_or_nothing_and_returns_the_refilled_state() -> None:
    state = BucketState(tokens=1.5, refilled_at=T0)
    ok, after = try_take(state, at(15), 3, CAP, RATE)
    assert not ok
    assert after == BucketState(tokens=2.0, refilled_at=at(15))
    ok, after = try_take(after, at(45), 3, CAP, RATE)
    assert ok
    assert after.tokens == pytest.approx(0.0)


def test_take_up_to_takes_whole_tokens_only() -> None:
    taken, after = take_up_to(BucketState(tokens=2.75, refilled_at=T0), T0, 5, CAP, RATE)
    assert taken == 2
    assert after.tokens == pytest.approx(0.75)
    taken, _ = take_up_to(BucketState(tokens=50.0, refilled_at=T0), T0, 3, CAP, RATE)
    assert taken == 3


def test_a_hair_below_a_whole_token_counts_as_whole() -> None:
    ok, after = try_take(BucketState(tokens=1 - 1e-12, refilled_at=T0), T0, 1, CAP, RATE)
    assert ok
    assert after.tokens == 0.0  # never stored negative


def test_time_until() -> None:
    assert time_until(full(T0, CAP), 1, T0, CAP, RATE) == timedelta(0)
    assert time_until(empty(), 1, T0, CAP, RATE) == timedelta(seconds=30)
    half = BucketState(tokens=1.5, refilled_at=T0)
    assert time_until(half, 3, T0, CAP, RATE) == timedelta(seconds=45)
    with pytest.raises(ValueError, match="never fit"):
        time_until(empty(), CAP + 1, T0, CAP, RATE)


def test_drain_pauses_everyone_and_resumes_at_the_refill_rate() -> None:
    state = drain(full(T0, CAP), T0, at(3600))
    assert state.tokens == 0
    assert is_paused(state, at(3599))
    assert not is_paused(state, at(3600))
    assert available(state, at(1800), CAP, RATE) == 0
    ok, _ = try_take(state, at(3599), 1, CAP, RATE)
    assert not ok
    assert time_until(state, 1, at(600), CAP, RATE) == timedelta(seconds=3000 + 30)
    # No burst after the pause: tokens accrue from its end, not from the drain.
    assert available(state, at(3600 + 60), CAP, RATE) == pytest.approx(2.0)


def test_a_drain_never_shortens_a_longer_pause() -> None:
    long = drain(empty(), T0, at(7200))
    short = drain(long, at(60), at(600))
    assert short.refilled_at == at(7200)
    assert short.paused_until == at(7200)


def test_a_drain_into_the_past_pauses_nothing() -> None:
    state = drain(full(T0, CAP), at(100), at(50))
    assert state == BucketState(tokens=0.0, refilled_at=at(100), paused_until=at(100))
    assert not is_paused(state, at(100))


@pytest.mark.parametrize(("capacity", "per_minute"), [(0, 2.0), (120, 0.0), (120, -1.0)])
def test_rejects_a_bucket_that_cannot_work(capacity: int, per_minute: float) -> None:
    with pytest.raises(ValueError, match="bucket"):
        refill(empty(), at(1), capacity, per_minute)


def test_rejects_negative_takes() -> None:
    with pytest.raises(ValueError, match="negative"):
        try_take(empty(), T0, -1, CAP, RATE)
    with pytest.raises(ValueError, match="negative"):
        take_up_to(empty(), T0, -1, CAP, RATE)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=50)),
        max_size=200,
    )
)
def test_never_grants_more_than_burst_plus_refill(steps: list[tuple[int, int]]) -> None:
    # From a full start, any window [0, t] holds at most capacity + rate * t grants.
    state = full(T0, CAP)
    elapsed = 0
    granted_total = 0
    for gap_s, wanted in steps:
        elapsed += gap_s
        granted, state = take_up_to(state, at(elapsed), wanted, CAP, RATE)
        granted_total += granted
        assert granted_total <= CAP + RATE * elapsed / 60 + 1e-6
        assert 0 <= state.tokens <= CAP
