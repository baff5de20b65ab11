"""Fleets, employees and tariffs: reads and writes of master data."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from billing.db.pages import After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.errors import NotFound
from billing.domain.line_items import in_minor_units
from billing.domain.models import (
    Employee,
    EmployeeCreate,
    EmployeeUpdate,
    Fleet,
    FleetCreate,
    Tariff,
    TariffCreate,
)

_q = queries("master")


async def insert_fleet(conn: Connection, data: FleetCreate) -> Fleet:
    row = await conn.fetchrow(_q.insert_fleet, data.name, data.currency, data.timezone)
    return Fleet.model_validate(dict(row or {}))


async def get_fleet(conn: Connection, fleet_id: UUID) -> Fleet:
    row = await conn.fetchrow(_q.get_fleet, fleet_id)
    if row is None:
        raise NotFound("no such fleet")
    return Fleet.model_validate(dict(row))


async def list_fleets(
    conn: Connection, *, only: UUID | None, after: After, limit: int
) -> list[Fleet]:
    rows = await conn.fetch(_q.list_fleets, only, after.created_at, after.id, limit)
    return [Fleet.model_validate(dict(row)) for row in rows]


def _employee(row: asyncpg.Record | None) -> Employee:
    """The row as the API shows it: the monthly cap with the fleet currency's minor units."""
    data = dict(row or {})
    currency = data.pop("fleet_currency", None)
    if data.get("monthly_cap") is not None and currency is not None:
        data["monthly_cap"] = in_minor_units(data["monthly_cap"], currency)
    return Employee.model_validate(data)


async def insert_employee(conn: Connection, data: EmployeeCreate) -> Employee:
    row = await conn.fetchrow(
        _q.insert_employee,
        data.fleet_id,
        data.external_ref,
        data.name,
        data.email,
        data.timezone,
        data.monthly_cap,
    )
    return _employee(row)


async def get_employee(
    conn: Connection, employee_id: UUID, *, for_update: bool = False
) -> Employee:
    query = _q.get_employee_for_update if for_update else _q.get_employee
    row = await conn.fetchrow(query, employee_id)
    if row is None:
        raise NotFound("no such employee")
    return _employee(row)


async def update_employee(conn: Connection, current: Employee, patch: EmployeeUpdate) -> Employee:
    merged = current.model_copy(update=patch.model_dump(exclude_unset=True))
    row = await conn.fetchrow(
        _q.update_employee,
        current.id,
        merged.external_ref,
        merged.name,
        merged.email,
        merged.timezone,
        merged.monthly_cap,
        merged.active,
    )
    return _employee(row)


async def list_employees(
    conn: Connection, *, fleet_id: UUID | None, only: UUID | None, after: After, limit: int
) -> list[Employee]:
    rows = await conn.fetch(_q.list_employees, fleet_id, only, after.created_at, after.id, limit)
    return [_employee(row) for row in rows]


async def insert_tariff(conn: Connection, data: TariffCreate) -> Tariff:
    row = await conn.fetchrow(
        _q.insert_tariff,
        data.fleet_id,
        data.employee_id,
        data.price_per_kwh,
        data.currency,
        data.valid_from,
        data.valid_to,
        data.source,
    )
    return Tariff.model_validate(dict(row or {}))


async def get_tariff(conn: Connection, tariff_id: UUID) -> Tariff:
    row = await conn.fetchrow(_q.get_tariff, tariff_id)
    if row is None:
        raise NotFound("no such tariff")
    return Tariff.model_validate(dict(row))


async def list_tariffs(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    with_fleet_defaults: bool,
    on: date | None,
    after: After,
    limit: int,
) -> list[Tariff]:
    rows = await conn.fetch(
        _q.list_tariffs,
        fleet_id,
        employee_id,
        with_fleet_defaults,
        on,
        after.created_at,
        after.id,
        limit,
    )
    return [Tariff.model_validate(dict(row)) for row in rows]


async def lock_fleet_tariffs(conn: Connection, fleet_id: UUID) -> None:
    if await conn.fetchval(_q.lock_fleet_tariffs, fleet_id) is None:
        raise NotFound("no such fleet")


async def employee_in_fleet(conn: Connection, employee_id: UUID, fleet_id: UUID) -> bool:
    return await conn.fetchval(_q.employee_in_fleet, employee_id, fleet_id) is not None
