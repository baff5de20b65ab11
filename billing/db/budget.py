"""The Smartcar application budget as one token bucket row shared by every process.

Capacity and refill come from BILLING_SMARTCAR_RATE_BURST / _PER_MINUTE. The arithmetic is the
same as `billing.domain.bucket`, done under the row lock so that concurrent workers never
grant more than Smartcar allows. Time is the database's clock, the one clock all processes
share.

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

_q = queries("budget")


@dataclass(frozen=True, slots=True)
class Bucket:
    capacity: int
    per_minute: float

    @property
    def _rate(self) -> Decimal:
        return Decimal(str(self.per_minute))

    async def take(self, conn: Connection, wanted: int) -> int:
        """Grant up to `wanted` calls now; 0 when the bucket is empty or paused.

        Lease the vehicles in the same transaction: once it commits, they are calls in flight
        for every other process's take.
        """
        await conn.execute(_q.ensure_bucket, self.capacity)
        async with conn.transaction():
            await self.settle(conn)
            row = await conn.fetchrow(_q.take_tokens, wanted)
        return int(row["granted"]) if row else 0

    async def settle(self, conn: Connection) -> None:
        """Bring the bucket up to now while the current leases count as calls in flight.

        Call it in the transaction that ends leases, before ending them: refill computed
        later must not count the time they were in flight at the raised cap.
        """
        await conn.execute(_q.lock_bucket)
        await conn.execute(_q.settle_tokens, self.capacity, self._rate)

    async def refund(self, conn: Connection, n: int) -> None:
        """Give back calls that were granted but not made."""
        if n > 0:
            await conn.execute(_q.refund_tokens, self.capacity, n)

    async def drain(self, conn: Connection, retry_after_s: float) -> None:
        """Smartcar said the application is over budget: everyone pauses."""
        await conn.execute(_q.ensure_bucket, self.capacity)
        await conn.execute(_q.drain, float(retry_after_s))

    async def available(self, conn: Connection) -> tuple[Decimal, datetime | None]:
        await conn.execute(_q.ensure_bucket, self.capacity)
        row = await conn.fetchrow(_q.peek, self.capacity, self._rate)
        assert row is not None
        return row["available"], row["paused_until"]
