"""Cars whose clocks run in another zone than their employee's, read through the whole sync:
every stored day holds exactly what the simulator served for that day in the car's zone, in
each `date` form (UNIX int and float midnights, ISO instants with a time of day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle

# (the car's zone, the employee's zone)
PAIRS = [
    ("Europe/Berlin", "America/Los_Angeles"),
    ("Asia/Tokyo", "Europe/Berlin"),
    ("America/Los_Angeles", "Australia/Sydney"),
    ("Australia/Sydney", "America/New_York"),
]


@pytest.mark.parametrize(("car_zone", "employee_zone"), PAIRS)
async def test_days_of_a_car_in_another_zone_are_its_own_days(
    sync_ctx: SyncContext,
    sim: Simulator,
    pool: Pool,
    factory: Factory,
    car_zone: str,
    employee_zone: str,
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30")
    employee = await factory.employee(fleet, timezone=employee_zone)
    cars: dict[str, UUID] = {}
    for _ in range(3):  # consecutive vehicles cycle through the three date forms
        user = sim.create_user(1, timezone=car_zone)
        (car,) = user.vehicle_ids
        cars[car] = await import_vehicle(pool, employee, user)
    assert {sim.profile(car).date_form for car in cars} == {"iso", "unix_int", "unix_float"}

    report = await run_pass(sync_ctx, only=list(cars.values()))

    now = datetime.now(UTC)
    employee_today = now.astimezone(ZoneInfo(employee_zone)).date()
    for result in report.results:
        car = next(c for c, ours in cars.items() if ours == result.vehicle_id)
        assert result.outcome == "ok", (sim.profile(car), result)
        rows = await pool.fetch(
            "SELECT charge_date, home_kwh, other_kwh FROM charge_records WHERE vehicle_id = $1 "
            "ORDER BY charge_date",
            result.vehicle_id,
        )
        stored: dict[date, tuple[Decimal, Decimal]] = {
            row["charge_date"]: (row["home_kwh"], row["other_kwh"]) for row in rows
        }
        assert len(stored) >= 25, (sim.profile(car), sorted(stored))
        days = sorted(stored)
        assert days == [days[0] + timedelta(days=n) for n in range(len(days))], "a gap"
        # Only days that have ended for the employee, none the car has not begun.
        assert days[-1] < employee_today
        assert days[-1] <= sim.profile(car).today(sim.now())
        for day, (home, other) in stored.items():
            truth = sim.day_energy(car, day)
            assert (home, other) == (Decimal(str(truth.home)), Decimal(str(truth.other))), (
                sim.profile(car).date_form,
                day,
            )
