"""The shared request budget: a token bucket of 120 tokens refilled at 2 per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.bucket import (
    BucketState,
    available,
    drain,
    full,
    grant,
    is_paused,
    refill,
    refund,
    settle,
    take_up_to,
    whole,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAP = 120
RATE = 2.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def empty() -> BucketState:
    return BucketState(tokens=Decimal(0), refilled_at=T0)


def test_full_bucket_grants_the_burst_then_refuses() -> None:
    state = full(T0, CAP)
    granted, state = take_up_to(state, T0, 500, CAP, RATE)
    assert granted == CAP
    granted, state = take_up_to(state, T0, 1, CAP, RATE)
    assert granted == 0
    assert state.tokens == 0


def test_refills_at_the_rate_and_stops_at_capacity() -> None:
    assert available(empty(), at(30), CAP, RATE) == 1
    assert available(empty(), at(45 * 60), CAP, RATE) == 90
    assert available(empty(), at(24 * 3600), CAP, RATE) == CAP


def test_refill_moves_the_clock_forward_only() -> None:
    later = refill(empty(), at(60), CAP, RATE)
    assert later.refilled_at == at(60)
    # Another process's clock slightly behind: nothing accrues, nothing goes back.
    assert refill(later, at(50), CAP, RATE) == later


def test_settle_truncates_to_the_column_scale_and_caps_at_the_calls_in_flight() -> None:
    # 1 s at 2/min is 0.0333...: stored as 0.0333, never rounded up.
    assert settle(empty(), at(1), CAP, RATE).tokens == Decimal("0.0333")
    almost = BucketState(tokens=Decimal(CAP - 1), refilled_at=T0)
    assert settle(almost, at(3600), CAP, RATE, in_flight=3).tokens == CAP - 3
    assert settle(almost, at(3600), CAP, RATE, in_flight=CAP + 5).tokens == 0


def test_take_up_to_takes_whole_tokens_only() -> None:
    taken, after = take_up_to(BucketState(tokens=Decimal("2.75"), refilled_at=T0), T0, 5, CAP, RATE)
    assert taken == 2
    assert after.tokens == Decimal("0.75")
    taken, _ = take_up_to(BucketState(tokens=Decimal(50), refilled_at=T0), T0, 3, CAP, RATE)
    assert taken == 3


def test_refund_gives_back_up_to_the_capacity() -> None:
    state = BucketState(tokens=Decimal("118.5"), refilled_at=T0)
    assert refund(state, 1, CAP).tokens == Decimal("119.5")
    assert refund(state, 5, CAP).tokens == CAP
    assert refund(state, 0, CAP) == state


def test_drain_pauses_everyone_and_resumes_at_the_refill_rate() -> None:
    state = drain(full(T0, CAP), T0, at(3600))
    assert state.tokens == 0
    assert is_paused(state, at(3599))
    assert not is_paused(state, at(3600))
    assert available(state, at(1800), CAP, RATE) == 0
    granted, _ = take_up_to(state, at(3599), 1, CAP, RATE)
    assert granted == 0
    # No burst after the pause: tokens accrue from its end, not from the drain.
    assert available(state, at(3600 + 60), CAP, RATE) == 2
    assert whole(state, at(3600 + 60), CAP, RATE) == 2


def test_nothing_is_granted_while_paused_even_after_a_refund() -> None:
    state = refund(drain(full(T0, CAP), T0, at(60)), 3, CAP)
    assert whole(state, at(30), CAP, RATE) == 0
    assert grant(state, at(30), 3)[0] == 0
    assert grant(state, at(60), 3)[0] == 3


def test_the_issue_probe_gets_nothing_right_after_a_pause() -> None:
    # Capacity 50, ten a second, a 2 s drain: the bucket is empty when the pause ends.
    state = drain(full(T0, 50), T0, at(2))
    for tick in range(1, 20):  # takes during the pause accrue nothing
        granted, state = take_up_to(state, at(tick / 10), 50, 50, 600.0)
        assert granted == 0
    granted, _ = take_up_to(state, at(2), 50, 50, 600.0)
    assert granted == 0


def test_a_drain_never_shortens_a_longer_pause() -> None:
    long = drain(empty(), T0, at(7200))
    short = drain(long, at(60), at(600))
    assert short.refilled_at == at(7200)
    assert short.paused_until == at(7200)


def test_a_drain_into_the_past_pauses_nothing() -> None:
    state = drain(full(T0, CAP), at(100), at(50))
    assert state == BucketState(tokens=Decimal(0), refilled_at=at(100), paused_until=at(100))
    assert not is_paused(state, at(100))


@pytest.mark.parametrize(("capacity", "per_minute"), [(0, 2.0), (120, 0.0), (120, -1.0)])
def test_rejects_a_bucket_that_cannot_work(capacity: int, per_minute: float) -> None:
    with pytest.raises(ValueError, match="bucket"):
        refill(empty(), at(1), capacity, per_minute)


def test_rejects_negative_takes() -> None:
    with pytest.raises(ValueError, match="negative"):
        grant(empty(), T0, -1)
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
        assert granted_total <= CAP + RATE * elapsed / 60
        assert 0 <= state.tokens <= CAP
