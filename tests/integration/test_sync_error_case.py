"""A vehicle throttle spelled as Smartcar's SDK fixture spells it ("Vehicle"), or sent in the v3
envelope, throttles that vehicle only: the shared budget is not drained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle


@pytest.mark.parametrize(
    "fault",
    ["RATE_LIMIT:Vehicle", "RATE_LIMIT:vehicle", "v3:RATE_LIMIT:VEHICLE", "v3:RATE_LIMIT:Vehicle"],
)
async def test_a_vehicle_throttle_in_any_spelling_leaves_the_shared_budget_alone(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory, fault: str
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    user = sim.create_user(1)
    vehicle_id = await import_vehicle(pool, employee, user)
    sim.set_fault(user.vehicle_ids[0], fault, retry_after_s=300)
    async with pool.acquire() as conn:
        before, paused_before = await sync_ctx.bucket.available(conn)
    started = datetime.now(UTC)

    report = await run_pass(sync_ctx, only=[vehicle_id])

    (result,) = report.results
    assert result.outcome == "retry_later", result
    row = await pool.fetchrow(
        "SELECT sync_state, not_before FROM vehicles WHERE id = $1", vehicle_id
    )
    assert row is not None
    assert row["sync_state"] == "throttled"
    # It waits out its own Retry-After.
    assert row["not_before"] >= started + timedelta(seconds=300)
    async with pool.acquire() as conn:
        after, paused_after = await sync_ctx.bucket.available(conn)
    # One call was spent; nothing was drained and nobody is paused.
    assert paused_before is None
    assert paused_after is None
    assert after >= before - 1
    assert sim.stats().throttles == {"app": 0, "vehicle": 1}
    assert result.error is not None
    assert (result.error["type"], result.error["code"]) == ("RATE_LIMIT", "VEHICLE")
