"""The shared Smartcar budget: one bucket row that concurrent processes never overdraw."""

from __future__ import annotations

import asyncio

from billing.db.budget import Bucket
from billing.db.pool import Pool, transaction


async def _take(pool: Pool, bucket: Bucket, n: int) -> int:
    async with transaction(pool) as conn:
        return await bucket.take(conn, n)


async def test_concurrent_takers_never_get_more_than_the_bucket_holds(pool: Pool) -> None:
    bucket = Bucket(capacity=20, per_minute=0.001)
    granted = await asyncio.gather(*(_take(pool, bucket, 5) for _ in range(10)))
    assert sum(granted) == 20
    assert await _take(pool, bucket, 1) == 0


async def test_refund_and_drain(pool: Pool) -> None:
    bucket = Bucket(capacity=10, per_minute=0.001)
    assert await _take(pool, bucket, 4) == 4
    async with transaction(pool) as conn:
        await bucket.refund(conn, 100)  # never above capacity
        available, paused = await bucket.available(conn)
    assert 9.99 < float(available) <= 10
    assert paused is None
    async with transaction(pool) as conn:
        await bucket.drain(conn, 60)
    assert await _take(pool, bucket, 1) == 0  # paused for everyone
    async with transaction(pool) as conn:
        _, paused = await bucket.available(conn)
    assert paused is not None


async def test_the_bucket_refills_with_time(pool: Pool) -> None:
    bucket = Bucket(capacity=5, per_minute=600)  # ten a second
    assert await _take(pool, bucket, 5) == 5
    await asyncio.sleep(0.35)
    assert 2 <= await _take(pool, bucket, 5) <= 4
