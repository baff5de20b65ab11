"""A read whose storage loses a real deadlock on PostgreSQL is stored again, once.

PostgreSQL picks the victim of a deadlock; the read's transaction is made the one to lose it
(it waits first, and the other side waits far longer before looking), so the read must
come back as ok with everything written exactly once.
"""

from __future__ import annotations

import asyncio

from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

# The read's first insert of charge records takes advisory lock 1, then waits for lock 2,
# which the test holds; the test then asks for lock 1: a cycle. Only the first attempt does.
_TRAP = """
CREATE SEQUENCE deadlock_once;
CREATE FUNCTION deadlock_trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('deadlock_once') = 1 THEN
        PERFORM pg_advisory_xact_lock(1);
        PERFORM pg_advisory_xact_lock(2);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deadlock_trap BEFORE INSERT ON charge_records
    FOR EACH STATEMENT EXECUTE FUNCTION deadlock_trap();
"""


async def test_a_deadlock_while_storing_is_retried_and_nothing_is_doubled(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30")
    employee = await factory.employee(fleet)
    vehicle_id = await import_vehicle(pool, employee, sim.create_user(1))
    await pool.execute(_TRAP)

    async with pool.acquire() as other:
        # Only the read's side looks for the deadlock after the usual second.
        await other.execute("SET deadlock_timeout = '1h'")
        await other.execute("SELECT pg_advisory_lock(2)")

        async def close_the_cycle() -> None:
            async with asyncio.timeout(120):
                while True:
                    held = await pool.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND objid = 1 AND granted AND pid <> pg_backend_pid()"
                    )
                    if held:
                        break
                    await asyncio.sleep(0.05)
            # Waits until PostgreSQL has rolled the read's transaction back.
            await other.execute("SELECT pg_advisory_lock(1)")
            await other.execute("SELECT pg_advisory_unlock_all()")

        closing = asyncio.create_task(close_the_cycle())
        async with asyncio.timeout(300):
            report = await run_pass(sync_ctx, only=[vehicle_id])
        await closing

    assert await pool.fetchval("SELECT last_value FROM deadlock_once") >= 2  # it did retry
    [result] = report.results
    assert result.outcome == "ok", result
    assert result.records > 20
    vehicle = await pool.fetchrow("SELECT * FROM vehicles WHERE id = $1", vehicle_id)
    assert vehicle is not None
    assert (vehicle["sync_state"], vehicle["consecutive_failures"]) == ("ok", 0)
    assert vehicle["lease_owner"] is None
    records = await pool.fetchval("SELECT count(*) FROM charge_records")
    assert records == result.records
    lines = await pool.fetch("SELECT charge_record_id FROM line_items")
    assert len(lines) == len({line["charge_record_id"] for line in lines}) == result.line_items
    created = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'line_item' AND action = 'create'"
    )
    assert created == len(lines)
    calls = await pool.fetchval(
        "SELECT count(*) FROM smartcar_calls WHERE vehicle_id = $1 AND endpoint = 'charge_records'",
        vehicle_id,
    )
    assert calls == 1  # the answer was stored again; Smartcar was not asked twice
