"""The money invariants live in the schema: bad rows are refused by PostgreSQL itself."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from billing.db.pool import Pool
from tests.factories import Factory


async def _vehicle(pool: Pool, factory: Factory) -> tuple[Any, Any, uuid.UUID]:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    vehicle_id = await pool.fetchval(
        "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make) "
        "VALUES ($1, $2, $3, 'TESLA') RETURNING id",
        fleet.id,
        employee.id,
        str(uuid.uuid4()),
    )
    return fleet, employee, vehicle_id


async def _record(
    pool: Pool, vehicle_id: uuid.UUID, employee_id: uuid.UUID, day: date, home: str = "10"
) -> uuid.UUID:
    record_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO charge_records (vehicle_id, employee_id, charge_date, home_kwh, other_kwh, "
        "supercharger_kwh, total_kwh, raw, source, fetched_at) "
        "VALUES ($1, $2, $3, $4, 0, 0, $4, '{}', 'test', $5) RETURNING id",
        vehicle_id,
        employee_id,
        day,
        Decimal(home),
        datetime.now(UTC),
    )
    return record_id


async def test_one_charge_record_per_vehicle_and_day(pool: Pool, factory: Factory) -> None:
    _, employee, vehicle_id = await _vehicle(pool, factory)
    await _record(pool, vehicle_id, employee.id, date(2026, 5, 1))
    with pytest.raises(asyncpg.UniqueViolationError):
        await _record(pool, vehicle_id, employee.id, date(2026, 5, 1))


@pytest.mark.parametrize("column", ["home_kwh", "other_kwh", "supercharger_kwh", "total_kwh"])
async def test_energy_is_never_negative(pool: Pool, factory: Factory, column: str) -> None:
    _, employee, vehicle_id = await _vehicle(pool, factory)
    record_id = await _record(pool, vehicle_id, employee.id, date(2026, 5, 2))
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(f"UPDATE charge_records SET {column} = -0.1 WHERE id = $1", record_id)


async def test_tariff_ranges_of_one_scope_never_overlap(pool: Pool, factory: Factory) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    await factory.tariff(fleet, valid_from=date(2026, 1, 1), valid_to=date(2026, 7, 1))
    insert = (
        "INSERT INTO tariffs (fleet_id, employee_id, price_per_kwh, currency, valid_from, valid_to)"
        " VALUES ($1, $2, 0.3, 'EUR', $3, $4)"
    )
    # adjacent ranges are fine (valid_to is exclusive); other scopes are independent
    await pool.execute(insert, fleet.id, None, date(2026, 7, 1), None)
    await pool.execute(insert, fleet.id, employee.id, date(2026, 3, 1), None)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute(insert, fleet.id, None, date(2026, 6, 30), date(2026, 7, 2))
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute(insert, fleet.id, employee.id, date(2027, 1, 1), None)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(insert, fleet.id, None, date(2030, 1, 2), date(2030, 1, 1))


async def test_currency_codes_are_checked(pool: Pool) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute(
            "INSERT INTO fleets (name, currency, timezone) VALUES ('x', 'EUX', 'UTC')"
        )


async def _line(pool: Pool, factory: Factory, **overrides: Any) -> uuid.UUID:
    fleet, employee, vehicle_id = await _vehicle(pool, factory)
    tariff = await factory.tariff(fleet)
    record_id = await _record(pool, vehicle_id, employee.id, date(2026, 5, 3))
    values: dict[str, Any] = {
        "kind": "charge",
        "adjusts_id": None,
        "kwh": Decimal("10"),
        "amount": Decimal("3.00"),
        "status": "pending",
        "currency": "EUR",
    }
    values.update(overrides)
    line_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id, "
        "charge_date, period, kind, adjusts_id, kwh, unit_price, currency, amount, tariff_id, "
        "status) VALUES ($1, $2, $3, $4, '2026-05-03', '2026-05', $5, $6, $7, 0.3, $8, $9, $10, "
        "$11) RETURNING id",
        fleet.id,
        employee.id,
        vehicle_id,
        record_id,
        values["kind"],
        values["adjusts_id"],
        values["kwh"],
        values["currency"],
        values["amount"],
        tariff.id,
        values["status"],
    )
    return line_id


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "paid"},
        {"kind": "refund"},
        {"kind": "adjustment"},  # an adjustment must point at the line it adjusts
        {"kwh": Decimal("-1"), "amount": Decimal("-0.30")},  # a charge line is never negative
        {"amount": Decimal("3.001")},  # more decimals than EUR has
        {"currency": "JPY", "amount": Decimal("3.5")},  # JPY has no minor unit
        {"status": "approved"},  # decided without decided_at/decided_by
    ],
)
async def test_line_item_constraints(pool: Pool, factory: Factory, overrides: Any) -> None:
    with pytest.raises((asyncpg.CheckViolationError, asyncpg.NotNullViolationError)):
        await _line(pool, factory, **overrides)


async def test_one_charge_line_per_record(pool: Pool, factory: Factory) -> None:
    line_id = await _line(pool, factory)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id, "
            "charge_date, period, kind, kwh, unit_price, currency, amount, tariff_id) "
            "SELECT fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, "
            "'charge', kwh, unit_price, currency, amount, tariff_id FROM line_items WHERE id = $1",
            line_id,
        )


async def test_decided_line_money_is_frozen(pool: Pool, factory: Factory) -> None:
    line_id = await _line(pool, factory)
    await pool.execute(
        "UPDATE line_items SET status = 'approved', decided_by = 'test', decided_at = now(), "
        "version = version + 1 WHERE id = $1",
        line_id,
    )
    with pytest.raises(asyncpg.CheckViolationError, match="cannot change"):
        await pool.execute(
            "UPDATE line_items SET amount = 4.00, version = version + 1 WHERE id = $1", line_id
        )
    with pytest.raises(asyncpg.CheckViolationError, match="new version"):
        await pool.execute("UPDATE line_items SET reason = 'x' WHERE id = $1", line_id)
    with pytest.raises(asyncpg.CheckViolationError, match="never deleted"):
        await pool.execute("DELETE FROM line_items WHERE id = $1", line_id)


async def test_kwh_is_padded_to_four_decimals_whenever_it_is_written(
    pool: Pool, factory: Factory
) -> None:
    line_id = await _line(pool, factory)
    assert await pool.fetchval("SELECT kwh::text FROM line_items WHERE id = $1", line_id) == (
        "10.0000"
    )
    await pool.execute(
        "UPDATE line_items SET kwh = 7.5, version = version + 1 WHERE id = $1", line_id
    )
    await pool.execute(
        "UPDATE line_items SET reason = 'checked', version = version + 1 WHERE id = $1", line_id
    )
    assert await pool.fetchval("SELECT kwh::text FROM line_items WHERE id = $1", line_id) == (
        "7.5000"
    )


async def test_audit_log_is_append_only(pool: Pool, factory: Factory) -> None:
    fleet = await factory.fleet()
    await pool.execute(
        "INSERT INTO audit_events (actor, fleet_id, entity, entity_id, action) "
        "VALUES ('t', $1, 'fleet', $1, 'create')",
        fleet.id,
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE audit_events SET actor = 'someone else'")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("DELETE FROM audit_events")


async def test_api_key_role_constraints(pool: Pool, factory: Factory) -> None:
    insert = (
        "INSERT INTO api_keys (prefix, secret_hash, role, fleet_id, employee_id) "
        "VALUES ($1, $2, $3, $4, NULL)"
    )
    with pytest.raises(asyncpg.CheckViolationError):  # a manager key needs a fleet
        await pool.execute(insert, "fb_manager_abcdefgh", b"\0" * 32, "manager", None)
    fleet = await factory.fleet()
    with pytest.raises(asyncpg.CheckViolationError):  # an employee key needs an employee
        await pool.execute(insert, "fb_employee_abcdefgh", b"\0" * 32, "employee", fleet.id)
