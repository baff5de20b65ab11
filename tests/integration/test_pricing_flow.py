"""Pricing from end to end: unpriced days, restatements after approval, the cap, the flags.

The simulator and the sync share one clock here, fixed at a known instant, so which days the
simulator restates later is known in advance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from billing.config import Settings
from billing.db import ledger
from billing.db.pool import Pool, transaction
from billing.db.records import VehicleOwner
from billing.services.ingestion import store_answer
from billing.smartcar.records import ChargeRecordsResult, UpstreamChargeRecord
from billing.smartcar_sim import Simulator, SimulatorOptions
from billing.smartcar_sim.data import day_energy
from billing.smartcar_sim.simulator import SimUser
from billing.sync.outcomes import SyncResult
from billing.sync.runner import run_pass, sync_context
from billing.sync.vehicle import SyncContext
from tests.factories import Factory
from tests.integration.conftest import import_vehicle
from tests.line_item_factories import LineItemFactory

Client = TestClient[Any, Any]
SEED = 7
START = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: int) -> None:
        self.now += timedelta(days=days)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim_options(clock: Clock) -> SimulatorOptions:
    return SimulatorOptions(
        seed=SEED, rate_burst=1000, rate_per_minute=1000, vehicle_min_interval_s=0, clock=clock
    )


@pytest.fixture
async def sync_ctx(sync_settings: Settings, pool: Pool, clock: Clock) -> AsyncIterator[SyncContext]:
    async with sync_context(sync_settings, pool, clock=clock) as ctx:
        yield ctx


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


async def _sync(ctx: SyncContext, vehicle_id: UUID) -> SyncResult:
    report = await run_pass(ctx, only=[vehicle_id])
    assert len(report.results) == 1
    result = report.results[0]
    assert result.outcome == "ok", result
    return result


async def test_unpriced_days_are_shown_and_priced_by_a_new_tariff_without_a_sync(
    client: Client, sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()  # no tariff at all
    user = sim.create_user(1)
    employee = await factory.employee(fleet, timezone=sim.profile(user.vehicle_ids[0]).timezone)
    vehicle_id = await import_vehicle(pool, employee, user)
    manager = factory.auth(await factory.key("manager", fleet))

    result = await _sync(sync_ctx, vehicle_id)
    assert result.records > 20
    assert result.line_items == 0
    home_days = await pool.fetch(
        "SELECT id, home_kwh FROM charge_records WHERE home_kwh > 0 ORDER BY charge_date"
    )
    assert home_days
    assert await pool.fetchval("SELECT count(*) FROM line_items") == 0
    async with transaction(pool) as conn:
        ids = [row["id"] for row in home_days]
        counted = await ledger.reconcile_records(conn, ids)
    assert counted == ledger.LedgerResult(lines_changed=0, unpriced=len(home_days))
    response = await client.get(
        f"/v1/charge-records?employee_id={employee.id}&unpriced=true&limit=100", headers=manager
    )
    listed = (await response.json())["items"]
    assert {item["id"] for item in listed} == {str(row["id"]) for row in home_days}

    calls = sim.stats().requests
    response = await client.post(
        "/v1/tariffs",
        headers=manager,
        json={
            "fleet_id": str(fleet.id),
            "price_per_kwh": "0.2875",
            "currency": "EUR",
            "valid_from": "2025-01-01",
        },
    )
    assert response.status == 201, await response.text()
    tariff = await response.json()

    assert sim.stats().requests == calls  # no second read
    lines = await pool.fetch(
        "SELECT l.*, r.home_kwh FROM line_items l "
        "JOIN charge_records r ON r.id = l.charge_record_id"
    )
    assert {line["charge_record_id"] for line in lines} == {row["id"] for row in home_days}
    for line in lines:
        assert line["kind"] == "charge"
        assert line["status"] == "pending"
        assert str(line["tariff_id"]) == tariff["id"]
        assert line["amount"] == _money(line["home_kwh"] * Decimal("0.2875"))
        assert line["evidence"]["tariff"]["id"] == tariff["id"]
    response = await client.get(
        f"/v1/charge-records?employee_id={employee.id}&unpriced=true", headers=manager
    )
    assert (await response.json())["items"] == []
    created = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'line_item' AND action = 'create'"
    )
    assert created == len(home_days)


def _restating_user(sim: Simulator, later: int) -> tuple[SimUser, list[date]]:
    """A user whose vehicle has days charged at home now that the simulator restates within
    `later` days, with those days (the simulator is a pure function of seed, vehicle, day)."""
    for _ in range(60):
        user = sim.create_user(1)
        profile = sim.profile(user.vehicle_ids[0])
        if not (profile.capable and profile.has_home):
            continue
        today = profile.today(sim.now())
        days = [
            today - timedelta(days=age)
            for age in range(1, 4)
            if (now := day_energy(profile, SEED, today - timedelta(days=age), today)).home
            and not now.restated
            and day_energy(
                profile, SEED, today - timedelta(days=age), today + timedelta(days=later)
            ).restated
        ]
        if days:
            return user, days
    raise AssertionError("no simulated vehicle restates a day soon")


async def test_a_day_restated_after_approval_gets_a_pending_adjustment(
    sync_ctx: SyncContext, sim: Simulator, clock: Clock, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30", valid_from=date(2025, 1, 1))
    user, restated_days = _restating_user(sim, later=5)
    timezone = sim.profile(user.vehicle_ids[0]).timezone
    employee = await factory.employee(fleet, timezone=timezone)
    vehicle_id = await import_vehicle(pool, employee, user)
    await _sync(sync_ctx, vehicle_id)

    approved = {
        row["id"]: dict(row)
        for row in await pool.fetch(
            "UPDATE line_items SET status = 'approved', decided_by = 'api_key:fb_test', "
            "decided_at = now(), version = version + 1 RETURNING *"
        )
    }
    by_day = {line["charge_date"]: line for line in approved.values()}
    assert set(restated_days) <= set(by_day)

    clock.advance(5)
    await _sync(sync_ctx, vehicle_id)

    for day in restated_days:
        original = by_day[day]
        record = await pool.fetchrow(
            "SELECT * FROM charge_records WHERE id = $1", original["charge_record_id"]
        )
        assert record is not None
        assert record["revision"] == 2
        assert record["home_kwh"] > original["kwh"]
        lines = await pool.fetch(
            "SELECT * FROM line_items WHERE charge_record_id = $1 ORDER BY created_at, id",
            record["id"],
        )
        assert dict(lines[0]) == original  # the approved line is untouched
        (adjustment,) = lines[1:]
        assert adjustment["kind"] == "adjustment"
        assert adjustment["status"] == "pending"
        assert adjustment["adjusts_id"] == original["id"]
        assert adjustment["kwh"] == record["home_kwh"] - original["kwh"]
        assert original["amount"] + adjustment["amount"] == _money(
            record["home_kwh"] * Decimal("0.30")
        )
        events = await pool.fetch(
            "SELECT action FROM audit_events WHERE entity_id = ANY($1) ORDER BY id",
            [record["id"], adjustment["id"]],
        )
        assert [e["action"] for e in events] == ["restate", "adjust"]
    # approved lines stay as they were, restated or not
    for line_id, line in approved.items():
        now = await pool.fetchrow("SELECT * FROM line_items WHERE id = $1", line_id)
        assert now is not None
        assert dict(now) == line


def _result(
    days: list[tuple[date, str, str, str, str]], timezone: str = "Europe/Berlin"
) -> ChargeRecordsResult:
    zone = ZoneInfo(timezone)
    records = tuple(
        UpstreamChargeRecord(
            day_start=datetime(day.year, day.month, day.day, tzinfo=zone),
            home_kwh=Decimal(home),
            other_kwh=Decimal(other),
            supercharger_kwh=Decimal(sc),
            total_kwh=Decimal(total),
            raw={"date": day.isoformat(), "home": home, "other": other, "total": total},
        )
        for day, home, other, sc, total in days
    )
    return ChargeRecordsResult(
        records=records, request_id="req-crafted", fetched_at=datetime(2025, 4, 2, tzinfo=UTC)
    )


async def _owner(factory: Factory, pool: Pool, *, monthly_cap: str | None = None) -> VehicleOwner:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30", valid_from=date(2025, 1, 1))
    employee = await factory.employee(
        fleet,
        timezone="Europe/Berlin",
        monthly_cap=Decimal(monthly_cap) if monthly_cap is not None else None,
    )
    vehicle = await LineItemFactory(pool).vehicle(employee)
    return VehicleOwner(vehicle.id, employee.id, fleet.id, "Europe/Berlin")


async def test_the_monthly_cap_cuts_the_lines_and_keeps_the_cut_as_evidence(
    factory: Factory, pool: Pool
) -> None:
    owner = await _owner(factory, pool, monthly_cap="10")
    days = [(date(2025, 3, d), "10", "0", "0", "10") for d in range(1, 6)]
    days.append((date(2025, 4, 1), "10", "0", "0", "10"))  # a new month, a new cap
    stored = await store_answer(pool, owner, _result(days), actor="test")
    assert (stored.records, stored.line_items, stored.unpriced) == (6, 6, 0)

    lines = await pool.fetch(
        "SELECT charge_date, amount, evidence FROM line_items ORDER BY charge_date"
    )
    assert [line["amount"] for line in lines] == [3, 3, 3, 1, 0, 3]
    march = [line for line in lines if line["charge_date"].month == 3]
    assert sum(line["amount"] for line in march) == Decimal(10)
    for line in lines:
        cap = line["evidence"]["cap"]
        assert cap["monthly_cap"] == "10.0000"
        # what is paid plus what the cap withheld is the day's full amount
        assert line["amount"] + Decimal(cap["cut"]) == Decimal("3.00")
        assert line["evidence"]["arithmetic"]["rounded"] == "3.00"
    assert [line["evidence"]["cap"]["cut"] for line in march] == [
        "0.00",
        "0.00",
        "0.00",
        "2.00",
        "3.00",
    ]

    # A restated day gets back the room it used first: the other days are not re-cut.
    await store_answer(pool, owner, _result([(date(2025, 3, 2), "5", "0", "0", "5")]), actor="test")
    amounts = await pool.fetch(
        "SELECT charge_date, sum(amount) AS amount FROM line_items "
        "WHERE period = '2025-03' GROUP BY 1 ORDER BY 1"
    )
    assert sum(row["amount"] for row in amounts) <= Decimal(10)
    assert amounts[1]["amount"] == Decimal("1.50")


async def test_plausibility_flags_are_stored_on_the_records(
    client: Client, factory: Factory, pool: Pool
) -> None:
    owner = await _owner(factory, pool)
    days = [
        (date(2025, 3, 1), "10", "2", "0", "12"),  # adds up
        (date(2025, 3, 2), "10", "2", "3", "20"),  # 15 of 20 kWh accounted for
        (date(2025, 3, 3), "10", "2", "0", "12.04"),  # within the rounding tolerance
        (date(2025, 3, 4), "180", "40", "60", "280"),  # more than a car takes in a day
    ]
    await store_answer(pool, owner, _result(days), actor="test")
    rows = await pool.fetch("SELECT charge_date, flags FROM charge_records ORDER BY charge_date")
    assert [(row["charge_date"].day, row["flags"]) for row in rows] == [
        (1, []),
        (2, ["total_mismatch"]),
        (3, []),
        (4, ["exceeds_daily_capacity"]),
    ]
    # flags never block pricing: every day with home kWh has its line
    assert await pool.fetchval("SELECT count(*) FROM line_items") == 4

    # the corrected figure clears the flag
    await store_answer(
        pool, owner, _result([(date(2025, 3, 2), "10", "2", "3", "15")]), actor="test"
    )
    assert await pool.fetchval("SELECT flags FROM charge_records WHERE revision = 2") == []

    manager = factory.auth(await factory.key("admin"))
    response = await client.get(
        f"/v1/charge-records?employee_id={owner.employee_id}", headers=manager
    )
    listed = {item["charge_date"]: item["flags"] for item in (await response.json())["items"]}
    assert listed["2025-03-04"] == ["exceeds_daily_capacity"]
