"""What a read stores of an answer: the days it names, once, only days asked for and ended,
energies exactly as received; and an answer that cannot be stored fails its vehicle only.

The simulator is scripted to answer with chosen records; its clock and the sync's are fixed
at START (12:00 UTC, 05:00 in Los Angeles, so the employee's last ended day is 19 March).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator, SimulatorOptions
from billing.sync.outcomes import SyncResult
from billing.sync.runner import run_pass, sync_context
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

Client = TestClient[Any, Any]
START = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
LAST_ENDED = date(2025, 3, 19)  # in Los Angeles
LA = "America/Los_Angeles"


@pytest.fixture
def sim_options() -> SimulatorOptions:
    return SimulatorOptions(
        seed=7, rate_burst=1000, rate_per_minute=1000, vehicle_min_interval_s=0, clock=lambda: START
    )


@pytest.fixture
async def sync_ctx(sync_settings: Settings, pool: Pool) -> AsyncIterator[SyncContext]:
    async with sync_context(sync_settings, pool, clock=lambda: START) as ctx:
        yield ctx


def midnight(day: date, tz: str) -> int:
    """The car's local midnight as UNIX seconds, Smartcar's documented form."""
    return int(datetime.combine(day, time(), tzinfo=ZoneInfo(tz)).timestamp())


def record(when: int | str, home: float, other: float = 0) -> dict[str, Any]:
    return {"date": when, "home": home, "other": other, "superCharger": 0, "total": home + other}


async def _vehicle(
    sim: Simulator, pool: Pool, factory: Factory, *, price: str = "0.30", tz: str = LA
) -> tuple[UUID, str]:
    fleet = await factory.fleet()
    await factory.tariff(fleet, price)
    employee = await factory.employee(fleet, timezone=tz)
    user = sim.create_user(1)
    return await import_vehicle(pool, employee, user), user.vehicle_ids[0]


async def _read(ctx: SyncContext, vehicle_id: UUID) -> SyncResult:
    (result,) = (await run_pass(ctx, only=[vehicle_id])).results
    return result


async def _days(pool: Pool) -> dict[date, Decimal]:
    rows = await pool.fetch("SELECT charge_date, home_kwh FROM charge_records ORDER BY 1")
    return {row["charge_date"]: row["home_kwh"] for row in rows}


async def _refused(pool: Pool, vehicle_id: UUID, result: SyncResult, code: str) -> None:
    """The read failed as a payload error of this vehicle, stored nothing, and says so."""
    assert result.outcome == "failed", result
    assert result.error is not None
    assert (result.error["type"], result.error["code"]) == ("INVALID_PAYLOAD", code)
    assert await pool.fetchval("SELECT count(*) FROM charge_records") == 0
    assert await pool.fetchval("SELECT count(*) FROM line_items") == 0
    row = await pool.fetchrow("SELECT * FROM vehicles WHERE id = $1", vehicle_id)
    assert row is not None
    assert row["sync_state"] == "failed"
    assert row["last_error"] == result.error
    assert row["not_before"] is not None
    assert row["not_before"] > START  # backed off
    assert row["synced_through"] is None
    calls = await pool.fetch(
        "SELECT status, outcome, request_id FROM smartcar_calls WHERE vehicle_id = $1", vehicle_id
    )
    assert [(c["status"], c["outcome"]) for c in calls] == [(200, "bad_payload")]  # counted
    assert calls[0]["request_id"] == result.error["request_id"]


async def test_a_berlin_cars_days_stay_its_days_for_a_los_angeles_employee(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    days = [LAST_ENDED - timedelta(days=n) for n in range(28)]  # 20 Feb to 19 Mar
    sim.set_records(car, [record(midnight(d, "Europe/Berlin"), d.day) for d in days])
    result = await _read(sync_ctx, vehicle_id)
    assert result.outcome == "ok", result
    assert await _days(pool) == {d: Decimal(d.day) for d in days}
    # 1 March is March's, at March's tariff, not 28 February's
    period = await pool.fetchval(
        "SELECT period FROM line_items WHERE charge_date = '2025-03-01'",
    )
    assert period == "2025-03"


async def test_identical_copies_of_a_day_are_stored_and_paid_once(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    day = record("2025-03-10T00:00:00.000Z", 10)
    sim.set_records(car, [day, record(midnight(date(2025, 3, 11), LA), 5), day])
    result = await _read(sync_ctx, vehicle_id)
    assert result.outcome == "ok", result
    assert await _days(pool) == {date(2025, 3, 10): 10, date(2025, 3, 11): 5}
    amounts = await pool.fetch("SELECT charge_date, amount FROM line_items ORDER BY 1")
    assert [row["amount"] for row in amounts] == [Decimal("3.00"), Decimal("1.50")]


async def test_two_different_records_of_one_day_are_a_conflict_shown_on_the_vehicle(
    client: Client, sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    sim.set_records(
        car,
        [
            record("2025-03-10T00:00:00.000Z", 10),
            record(midnight(date(2025, 3, 11), LA), 5),
            record(midnight(date(2025, 3, 10), LA), 10, other=2),  # the same day again
        ],
    )
    result = await _read(sync_ctx, vehicle_id)
    await _refused(pool, vehicle_id, result, "CONFLICTING_DAY")
    assert result.error is not None
    assert "records[0] and records[2] both name 2025-03-10" in result.error["description"]
    admin = factory.auth(await factory.key("admin"))
    response = await client.get(f"/v1/vehicles/{vehicle_id}", headers=admin)
    assert response.status == 200
    shown = (await response.json())["sync"]
    assert shown["state"] == "failed"
    assert shown["last_error"]["code"] == "CONFLICTING_DAY"


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("2013-05-01T00:00:00.000Z", "OUTSIDE_WINDOW"),  # long before the 30 days offered
        (midnight(date(2025, 3, 20), LA), "DAY_NOT_ENDED"),  # today in Los Angeles
        (midnight(date(2025, 3, 21), "Asia/Tokyo"), "DAY_NOT_ENDED"),  # tomorrow
    ],
)
async def test_days_smartcar_did_not_offer_or_that_have_not_ended_are_refused(
    sync_ctx: SyncContext,
    sim: Simulator,
    pool: Pool,
    factory: Factory,
    when: int | str,
    code: str,
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    sim.set_records(car, [record(midnight(date(2025, 3, 18), LA), 4), record(when, 7)])
    await _refused(pool, vehicle_id, await _read(sync_ctx, vehicle_id), code)


async def test_an_answer_of_thousands_of_days_stores_nothing(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    days = [LAST_ENDED - timedelta(days=n) for n in range(4000)]  # back to 2014
    sim.set_records(car, [record(f"{d.isoformat()}T00:00:00.000Z", 1) for d in days])
    await _refused(pool, vehicle_id, await _read(sync_ctx, vehicle_id), "OUTSIDE_WINDOW")


async def test_150_copies_of_a_9999_kwh_day_are_one_day(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory)
    sim.set_records(car, [record(midnight(date(2025, 3, 12), LA), 9999)] * 150)
    result = await _read(sync_ctx, vehicle_id)
    assert result.outcome == "ok", result
    assert await _days(pool) == {date(2025, 3, 12): Decimal(9999)}
    assert await pool.fetchval("SELECT sum(amount) FROM line_items") == Decimal("2999.70")


async def test_a_storage_error_fails_its_vehicle_and_the_pass_goes_on(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    good, _ = await _vehicle(sim, pool, factory)
    bad, _ = await _vehicle(sim, pool, factory)
    # Whatever the database refuses of one vehicle's answer (here: every record of `bad`).
    await pool.execute(
        f"""
        CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.vehicle_id = '{bad}' THEN
                RAISE EXCEPTION 'numeric field overflow' USING ERRCODE = '22003';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_bad BEFORE INSERT ON charge_records
            FOR EACH ROW EXECUTE FUNCTION refuse_bad();
        """
    )
    report = await run_pass(sync_ctx, only=[good, bad])
    outcomes = {r.vehicle_id: r for r in report.results}
    assert outcomes[good].outcome == "ok"
    assert outcomes[bad].outcome == "failed"
    error = outcomes[bad].error
    assert error is not None
    assert (error["type"], error["code"], error["status"]) == ("STORAGE", "22003", 200)
    row = await pool.fetchrow("SELECT * FROM vehicles WHERE id = $1", bad)
    assert row is not None
    assert (row["sync_state"], row["consecutive_failures"]) == ("failed", 1)
    assert row["last_error"] == error
    assert row["not_before"] > START  # backed off: not read again on the next tick
    assert (
        await pool.fetchval("SELECT count(*) FROM charge_records WHERE vehicle_id = $1", bad) == 0
    )
    assert await pool.fetchval("SELECT count(*) FROM charge_records WHERE vehicle_id = $1", good)
    (again,) = (await run_pass(sync_ctx, only=[bad])).results
    assert again.error is not None
    assert again.error["type"] == "BACKING_OFF"
    assert (await run_pass(sync_ctx)).results == []


async def test_energy_is_stored_as_received_and_only_the_amount_is_rounded(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    vehicle_id, car = await _vehicle(sim, pool, factory, price="0.10")
    small, restated = date(2025, 3, 14), date(2025, 3, 15)
    sim.set_records(
        car, [record(midnight(small, LA), 0.04995), record(midnight(restated, LA), 10.0)]
    )
    assert (await _read(sync_ctx, vehicle_id)).outcome == "ok"
    assert await _days(pool) == {small: Decimal("0.04995"), restated: Decimal("10.0000")}
    # 0.04995 kWh × 0.10 = 0.004995, rounded once: 0.00 (not 0.0500 × 0.10 = 0.005 → 0.01)
    amounts = await pool.fetch("SELECT charge_date, amount FROM line_items ORDER BY 1")
    assert [row["amount"] for row in amounts] == [Decimal("0.00"), Decimal("1.00")]
    sim.set_records(car, [record(midnight(restated, LA), 10.00004)])
    assert (await _read(sync_ctx, vehicle_id)).outcome == "ok"
    row = await pool.fetchrow(
        "SELECT home_kwh, revision FROM charge_records WHERE charge_date = $1", restated
    )
    assert row is not None
    assert (row["home_kwh"], row["revision"]) == (Decimal("10.00004"), 2)  # a restatement
    events = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'charge_record' AND action = 'restate'"
    )
    assert events == 1


async def test_the_schema_refuses_energy_that_would_be_rounded_or_does_not_fit(
    pool: Pool, factory: Factory
) -> None:
    vehicle_id, _ = await _vehicle_row(pool, factory)
    for value in ("1000000", "0.0000000000000000000000001"):
        with pytest.raises(asyncpg.CheckViolationError):
            await _insert(pool, vehicle_id, value)
    await _insert(pool, vehicle_id, "999999.999999999999999999999999")
    stored = await pool.fetchval("SELECT home_kwh FROM charge_records")
    assert stored == Decimal("999999.999999999999999999999999")
    # fewer than four decimals read as numeric(10,4) showed them: exactly, padded with zeros
    await pool.execute("UPDATE charge_records SET home_kwh = 10.5, total_kwh = 12")
    row = await pool.fetchrow("SELECT home_kwh, total_kwh FROM charge_records")
    assert row is not None
    assert (str(row["home_kwh"]), str(row["total_kwh"])) == ("10.5000", "12.0000")


async def _vehicle_row(pool: Pool, factory: Factory) -> tuple[UUID, UUID]:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    vehicle_id: UUID = await pool.fetchval(
        "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make) "
        "VALUES ($1, $2, 'schema-check', 'TESLA') RETURNING id",
        fleet.id,
        employee.id,
    )
    return vehicle_id, employee.id


async def _insert(pool: Pool, vehicle_id: UUID, home: str) -> None:
    await pool.execute(
        "INSERT INTO charge_records (vehicle_id, employee_id, charge_date, home_kwh, other_kwh, "
        "supercharger_kwh, total_kwh, raw, source, fetched_at) "
        "SELECT $1, employee_id, '2025-03-01', $2, 0, 0, $2, '{}', 'test', now() "
        "FROM vehicles WHERE id = $1",
        vehicle_id,
        Decimal(home),
    )
