"""The Smartcar application budget as one token bucket row shared by every process.

Capacity and refill come from BILLING_SMARTCAR_RATE_BURST / _PER_MINUTE. The arithmetic is
`billing.domain.bucket`, done in SQL under the row lock so that concurrent workers never
grant more than Smartcar allows (tests/integration/test_budget_equivalence.py proves the two
agree step for step). Time is the database's clock, the one clock all processes share;
`now=` drives the bucket in virtual time instead (tests, benchmarks).

Smartcar counts a call when it arrives, we count it when it is granted. While calls travel
its bucket is the fuller one, so it stops refilling at the capacity sooner: ours refills only
up to the capacity less the calls in flight (the leased vehicles), and is settled whenever
that number changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.bucket import BucketState, rate

_q = queries("budget")


@dataclass(frozen=True, slots=True)
class Bucket:
    capacity: int
    per_minute: float

    @property
    def rate(self) -> Decimal:
        return rate(self.per_minute)

    async def ensure(self, conn: Connection, *, now: datetime | None = None) -> None:
        """Create the row, full, if no process has yet."""
        await conn.execute(_q.ensure_bucket, self.capacity, now)

    async def take(
        self, conn: Connection, wanted: int, *, leased: int = 0, now: datetime | None = None
    ) -> int:
        """Grant up to `wanted` calls now; 0 when the bucket is empty or paused.

        `leased`: leases this transaction took for the calls it asks for (no call is in
        flight for them yet). Once it commits, the leases it keeps count as calls in flight
        for every other process.
        """
        await self.ensure(conn, now=now)
        async with conn.transaction():
            await self.settle(conn, taken=leased, now=now)
            row = await conn.fetchrow(_q.take_tokens, wanted, now)
        return int(row["granted"]) if row else 0

    async def settle(
        self, conn: Connection, *, taken: int = 0, ended: int = 0, now: datetime | None = None
    ) -> None:
        """Bring the bucket up to now, the leases counting as calls in flight.

        Call it in the transaction that takes or ends leases, after doing so and saying how
        many: refill computed later must not count the time calls were in flight at the
        raised cap. Leases are locked before the bucket, never the other way round.
        """
        await conn.execute(_q.lock_bucket)
        await conn.execute(_q.settle_tokens, self.capacity, self.rate, taken, ended, now)

    async def settle_take(
        self,
        conn: Connection,
        *,
        taken: int,
        ended: int,
        refund: int,
        wanted: int,
        now: datetime | None = None,
    ) -> int:
        """`settle`, `refund` and `take` at once, in the caller's transaction (the one that
        took `taken` leases and ended `ended`, in that order); the calls granted."""
        await conn.execute(_q.lock_bucket)
        args = (self.capacity, self.rate, taken, ended, now, refund, wanted)
        granted = await conn.fetchval(_q.settle_take, *args)
        if granted is None:  # no process has created the row yet
            await self.ensure(conn, now=now)
            await conn.execute(_q.lock_bucket)
            granted = await conn.fetchval(_q.settle_take, *args)
        return int(granted or 0)

    async def whole(self, conn: Connection, *, now: datetime | None = None) -> int:
        """Whole calls the bucket holds now (0 while paused), read without the lock: at least
        what `take` grants, which also holds back the calls in flight."""
        await self.ensure(conn, now=now)
        whole: int = await conn.fetchval(_q.whole_tokens, self.capacity, self.rate, now)
        return whole

    async def refund(self, conn: Connection, n: int) -> None:
        """Give back calls that were granted but not made."""
        if n > 0:
            await conn.execute(_q.refund_tokens, self.capacity, n)

    async def drain(
        self, conn: Connection, retry_after_s: float, *, now: datetime | None = None
    ) -> None:
        """Smartcar said the application is over budget: everyone pauses."""
        await self.ensure(conn, now=now)
        await conn.execute(_q.drain, max(0.0, float(retry_after_s)), now)

    async def available(
        self, conn: Connection, *, now: datetime | None = None
    ) -> tuple[Decimal, datetime | None]:
        await self.ensure(conn, now=now)
        row = await conn.fetchrow(_q.peek, self.capacity, self.rate, now)
        assert row is not None
        return row["available"], row["paused_until"]

    async def state(self, conn: Connection, *, now: datetime | None = None) -> BucketState:
        """The row as stored."""
        await self.ensure(conn, now=now)
        row = await conn.fetchrow(_q.peek, self.capacity, self.rate, now)
        assert row is not None
        return BucketState(
            tokens=row["tokens"], refilled_at=row["refilled_at"], paused_until=row["paused_until"]
        )
