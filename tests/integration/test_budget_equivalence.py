"""The budget SQL and `billing.domain.bucket` are one rule: random sequences, step for step.

Every example is one transaction on the real `smartcar_budget` row, rolled back at the end,
driven in virtual time (each statement takes `now`). After every step the stored row and
the model agree on tokens (within 1e-9), `refilled_at`, `paused_until`, and every grant,
peek and whole-token count is equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.db.budget import Bucket
from billing.db.pool import Connection, Pool
from billing.domain import bucket as model

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # settle | take | refund | drain | whole | peek
    dt_us: int  # the clock moves by this much first (a little backwards sometimes)
    n: int = 0  # calls wanted / refunded / in flight
    secs_ms: int = 0  # a drain's Retry-After


_dt = st.one_of(
    st.integers(min_value=0, max_value=2_000_000),
    st.integers(min_value=0, max_value=4 * 3600 * 1_000_000),
    st.integers(min_value=-500_000, max_value=0),
)
_step = st.one_of(
    st.builds(Step, st.just("settle"), _dt, st.integers(min_value=0, max_value=30)),
    st.builds(Step, st.just("take"), _dt, st.integers(min_value=0, max_value=60)),
    st.builds(Step, st.just("refund"), st.just(0), st.integers(min_value=0, max_value=10)),
    st.builds(
        Step, st.just("drain"), _dt, st.just(0), st.integers(min_value=0, max_value=7_200_000)
    ),
    st.builds(Step, st.just("whole"), _dt),
    st.builds(Step, st.just("peek"), _dt),
)
_capacity = st.integers(min_value=1, max_value=200)
# Rates as configured: a few decimals, from slow (0.01/min) to fast (100/s).
_per_minute = st.integers(min_value=1, max_value=600_000).map(lambda k: k / 100)


async def _agree(conn: Connection, bucket: Bucket, state: model.BucketState, now: datetime) -> None:
    stored = await bucket.state(conn, now=now)
    assert abs(stored.tokens - state.tokens) <= Decimal("1e-9"), (stored, state)
    assert stored.refilled_at == state.refilled_at
    assert stored.paused_until == state.paused_until


async def _run(conn: Connection, capacity: int, per_minute: float, steps: list[Step]) -> None:
    bucket = Bucket(capacity=capacity, per_minute=per_minute)
    now = T0
    await bucket.ensure(conn, now=now)
    state = model.full(now, capacity)
    await _agree(conn, bucket, state, now)
    for step in steps:
        now += timedelta(microseconds=step.dt_us)
        match step.kind:
            case "settle":
                async with conn.transaction():
                    await bucket.settle(conn, ended=step.n, now=now)
                state = model.settle(state, now, capacity, per_minute, in_flight=step.n)
            case "take":
                granted = await bucket.take(conn, step.n, now=now)
                expected, state = model.take_up_to(state, now, step.n, capacity, per_minute)
                assert granted == expected
            case "refund":
                await bucket.refund(conn, step.n)
                state = model.refund(state, step.n, capacity)
            case "drain":
                secs = step.secs_ms / 1000
                await bucket.drain(conn, secs, now=now)
                state = model.drain(state, now, now + timedelta(seconds=secs))
            case "whole":
                got = await bucket.whole(conn, now=now)
                assert got == model.whole(state, now, capacity, per_minute)
            case "peek":
                available, paused_until = await bucket.available(conn, now=now)
                assert abs(available - model.available(state, now, capacity, per_minute)) <= (
                    Decimal("1e-9")
                )
                assert paused_until == state.paused_until
        await _agree(conn, bucket, state, now)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(capacity=_capacity, per_minute=_per_minute, steps=st.lists(_step, max_size=25))
async def test_budget_sql_and_model_agree_on_every_step(
    pool: Pool, capacity: int, per_minute: float, steps: list[Step]
) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await _run(conn, capacity, per_minute, steps)
        finally:
            await tx.rollback()


async def test_a_drain_pause_accrues_nothing_in_sql(pool: Pool) -> None:
    # The probe of the report: capacity 50, ten a second, a 2 s drain. Takes during the
    # pause used to settle the refill since the drain, so the first take after it got 20.
    bucket = Bucket(capacity=50, per_minute=600)
    async with pool.acquire() as conn:
        await bucket.ensure(conn, now=T0)
        assert await bucket.take(conn, 50, now=T0) == 50
        await bucket.drain(conn, 2, now=T0)
        for tenth in range(1, 20):
            assert await bucket.take(conn, 50, now=T0 + timedelta(seconds=tenth / 10)) == 0
        assert await bucket.take(conn, 50, now=T0 + timedelta(seconds=2)) == 0
        assert await bucket.take(conn, 50, now=T0 + timedelta(seconds=2.5)) == 5


async def test_a_whole_token_of_refill_is_not_truncated_below_one(pool: Pool) -> None:
    # 20 s at 3/min is exactly one token; dividing the seconds by 60 before multiplying
    # gave 0.99999..., truncated to 0.9999, and the call was refused.
    bucket = Bucket(capacity=5, per_minute=3)
    async with pool.acquire() as conn:
        await bucket.ensure(conn, now=T0)
        assert await bucket.take(conn, 5, now=T0) == 5
        assert await bucket.take(conn, 1, now=T0 + timedelta(seconds=20)) == 1
