"""Reading one vehicle against the simulator: idempotent storage, restatements, every fault."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from billing.db.budget import Bucket
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle


async def _one(ctx: SyncContext, vehicle_id: Any) -> Any:
    report = await run_pass(ctx, only=[vehicle_id])
    assert len(report.results) == 1
    return report.results[0]


async def test_repeated_reads_store_each_day_once_and_follow_restatements(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30")
    employee = await factory.employee(fleet, timezone="America/Los_Angeles")
    user = sim.create_user(1)
    vehicle_id = await import_vehicle(pool, employee, user)

    first = await _one(sync_ctx, vehicle_id)
    assert first.outcome == "ok", first
    assert first.records > 20
    count = await pool.fetchval("SELECT count(*) FROM charge_records")
    assert count == first.records
    lines = await pool.fetchval("SELECT count(*) FROM line_items")
    assert first.line_items == lines

    second = await _one(sync_ctx, vehicle_id)
    assert second.outcome == "ok"
    assert await pool.fetchval("SELECT count(*) FROM charge_records") == count
    assert await pool.fetchval("SELECT count(*) FROM line_items") == lines

    vehicle = await pool.fetchrow("SELECT * FROM vehicles WHERE id = $1", vehicle_id)
    assert vehicle is not None
    assert vehicle["sync_state"] == "ok"
    assert vehicle["synced_through"] is not None
    assert vehicle["last_error"] is None

    # Days pass: the simulator restates some recent days when they are a few days old.
    sim.advance(5 * 86400)
    await _one(sync_ctx, vehicle_id)
    restated = await pool.fetchval("SELECT count(*) FROM charge_records WHERE revision > 1")
    events = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'charge_record' AND action = 'restate'"
    )
    assert restated == events
    duplicates = await pool.fetchval(
        "SELECT count(*) FROM (SELECT vehicle_id, charge_date FROM charge_records "
        "GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert duplicates == 0
    # every priced record's lines add up to its home kWh at the tariff
    mismatched = await pool.fetchval(
        "SELECT count(*) FROM charge_records r "
        "JOIN (SELECT charge_record_id, sum(amount) AS amount FROM line_items GROUP BY 1) l "
        "ON l.charge_record_id = r.id WHERE l.amount <> round(r.home_kwh * 0.30, 2)"
    )
    assert mismatched == 0


FAULTS = [
    ("VEHICLE_STATE:ASLEEP", "retry_later", "retry_later"),
    ("UPSTREAM:NO_RESPONSE", "retry_later", "retry_later"),
    ("SERVER:INTERNAL", "retry_later", "retry_later"),
    ("html_502", "retry_later", "retry_later"),
    ("legacy_json", "retry_later", "retry_later"),
    ("v3_envelope", "retry_later", "retry_later"),
    ("RATE_LIMIT:VEHICLE", "retry_later", "throttled"),
    ("RATE_LIMIT:SMARTCAR_API", "retry_later", "retry_later"),
    ("PERMISSION", "needs_reauth", "needs_reauth"),
    ("CONNECTED_SERVICES_ACCOUNT:ACCOUNT_ISSUE", "needs_reauth", "owner_action"),
    ("COMPATIBILITY:VEHICLE_NOT_CAPABLE", "not_capable", "not_capable"),
    ("COMPATIBILITY:PLATFORM_NOT_CAPABLE", "needs_reauth", "needs_reauth"),
    ("BILLING:VEHICLE_REQUEST_LIMIT", "failed", "failed"),
    ("VALIDATION", "failed", "failed"),
    ("RESOURCE_NOT_FOUND:PATH", "failed", "failed"),
    ("reset", "retry_later", "retry_later"),
]


@pytest.mark.parametrize(("fault", "outcome", "state"), FAULTS)
async def test_each_fault_ends_in_its_outcome_and_state(
    sync_ctx: SyncContext,
    sim: Simulator,
    pool: Pool,
    factory: Factory,
    fault: str,
    outcome: str,
    state: str,
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(1)
    vehicle_id = await import_vehicle(pool, employee, user)
    # aiohttp retries an idempotent request once when a kept-alive connection drops
    sim.set_fault(user.vehicle_ids[0], fault, 2 if fault == "reset" else 1, retry_after_s=30)
    result = await _one(sync_ctx, vehicle_id)
    assert result.outcome == outcome, result
    assert result.error is not None
    row = await pool.fetchrow("SELECT * FROM vehicles WHERE id = $1", vehicle_id)
    assert row is not None
    assert row["sync_state"] == state
    assert row["last_error"] == result.error
    assert set(result.error) == {
        "type",
        "code",
        "status",
        "request_id",
        "retry_after_s",
        "description",
    }
    assert await pool.fetchval("SELECT count(*) FROM charge_records") == 0  # nothing half-written
    assert row["synced_through"] is None
    if state == "throttled":
        assert row["not_before"] is not None


async def test_expired_access_token_is_refreshed_and_a_refused_refresh_needs_reauth(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(2)
    first = await import_vehicle(pool, employee, user, 0, expired=True)
    assert (await _one(sync_ctx, first)).outcome == "ok"
    assert sim.stats().refreshes == 1
    stored = await pool.fetchrow("SELECT generation, state FROM smartcar_connections")
    assert stored is not None
    assert stored["generation"] == 2
    # the owner revokes access: the next refresh is refused, the vehicle needs the employee
    sim.revoke_user(user.user_id)
    await pool.execute("UPDATE smartcar_connections SET access_expires_at = '2000-01-01'")
    result = await _one(sync_ctx, first)
    assert result.outcome == "needs_reauth"
    row = await pool.fetchrow("SELECT sync_state, last_error FROM vehicles WHERE id = $1", first)
    assert row is not None
    assert row["sync_state"] == "needs_reauth"
    assert await pool.fetchval("SELECT state FROM smartcar_connections") == "needs_reauth"


async def test_a_read_that_makes_no_call_gives_its_budget_back(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    vehicle_id = await pool.fetchval(
        "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make) "
        "VALUES ($1, $2, 'not-connected', 'TESLA') RETURNING id",
        fleet.id,
        employee.id,
    )
    ctx = dataclasses.replace(sync_ctx, bucket=Bucket(capacity=5, per_minute=0.0001))
    async with pool.acquire() as conn:
        before, _ = await ctx.bucket.available(conn)
    result = await _one(ctx, vehicle_id)
    assert result.outcome == "needs_reauth"
    assert result.error is not None
    assert result.error["type"] == "NOT_CONNECTED"
    async with pool.acquire() as conn:
        after, _ = await ctx.bucket.available(conn)
    assert round(after) == round(before) == 5  # taken for the read, then given back
    assert sim.stats().requests == 0
