"""The sync's repositories on PostgreSQL: the combined budget statement and the claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.db import sync_vehicles
from billing.db.budget import Bucket
from billing.db.pool import Pool
from billing.domain.bucket import BucketState
from billing.smartcar_sim import Simulator
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def _state(pool: Pool, bucket: Bucket, now: datetime) -> BucketState:
    async with pool.acquire() as conn:
        return await bucket.state(conn, now=now)


async def test_settle_take_leaves_the_bucket_as_settle_refund_and_take_do(pool: Pool) -> None:
    bucket = Bucket(capacity=10, per_minute=7)
    async with pool.acquire() as conn:
        await bucket.ensure(conn, now=T0)
        await conn.execute("UPDATE smartcar_budget SET tokens = 3.5")
    for step, (refund, wanted) in enumerate([(0, 2), (1, 5), (3, 20), (0, 0)], start=1):
        now = T0 + timedelta(seconds=7 * step)
        async with pool.acquire() as conn:
            start = await bucket.state(conn, now=now)
            tx = conn.transaction()
            await tx.start()
            await bucket.settle(conn, now=now)
            await bucket.refund(conn, refund)
            granted = await bucket.take(conn, wanted, now=now)
            separate = await bucket.state(conn, now=now)
            await tx.rollback()
            assert await bucket.state(conn, now=now) == start
            async with conn.transaction():
                combined = await bucket.settle_take(
                    conn, taken=0, ended=0, refund=refund, wanted=wanted, now=now
                )
            assert combined == granted
            assert await bucket.state(conn, now=now) == separate


async def test_a_claim_returns_what_the_read_needs_and_ends_finished_leases(
    pool: Pool, sim: Simulator, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet, timezone="Europe/Berlin")
    vehicle_id = await import_vehicle(pool, employee, sim.create_user(1))
    bucket = Bucket(capacity=5, per_minute=60)
    async with pool.acquire() as conn:
        await bucket.ensure(conn)
    now = datetime.now(UTC)

    claim = await sync_vehicles.claim(
        pool, bucket, now=now, worker="w", limit=3, only=None, lease_s=60, seen=set()
    )
    [row] = claim.vehicles
    assert (row.id, row.employee_id, row.timezone) == (vehicle_id, employee.id, "Europe/Berlin")
    assert row.access is not None
    assert row.access.connection_id == row.connection_id
    assert row.fleet_size == 1
    assert await pool.fetchval("SELECT lease_owner FROM vehicles WHERE id = $1", vehicle_id) == "w"
    again = await sync_vehicles.claim(
        pool, bucket, now=now, worker="w", limit=3, only=None, lease_s=60, seen={vehicle_id}
    )
    assert again.vehicles == []  # leased already: nobody else reads it

    done = [sync_vehicles.Finished(vehicle_id, called=False)]
    await sync_vehicles.claim(
        pool, bucket, now=now, worker="w", limit=0, only=None, lease_s=60, seen=set(), finished=done
    )
    assert await pool.fetchval("SELECT lease_owner FROM vehicles WHERE id = $1", vehicle_id) is None
    found = await sync_vehicles.vehicle(pool, vehicle_id)
    assert found is not None
    assert found.lease_until is None
