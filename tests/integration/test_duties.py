"""Segregation of duties: no key decides, raises or creates money for the person it is bound
to, directly or through records and vehicle links that person's keys created."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from billing.db.pool import Pool
from billing.domain.line_items import LineItem
from billing.domain.models import Employee, Fleet, Tariff
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory, VehicleRow

Client = TestClient[Any, Any]


@dataclass
class Office:
    fleet: Fleet
    em: Employee  # a manager who is paid by the fleet too
    colleague: Employee
    tariff: Tariff
    bound: dict[str, str]  # the manager key bound to `em`
    other: dict[str, str]  # another manager of the fleet
    items: LineItemFactory


@pytest.fixture
async def office(factory: Factory, pool: Pool) -> Office:
    fleet = await factory.fleet()
    em, colleague = await factory.employee(fleet), await factory.employee(fleet)
    tariff = await factory.tariff(fleet, "0.30", valid_from=date(2024, 1, 1))
    return Office(
        fleet,
        em,
        colleague,
        tariff,
        factory.auth(await factory.key("manager", fleet, em)),
        factory.auth(await factory.key("manager", fleet)),
        LineItemFactory(pool),
    )


async def _vehicle(client: Client, headers: dict[str, str], employee_id: UUID) -> VehicleRow:
    resp = await client.post(
        "/v1/vehicles",
        json={
            "employee_id": str(employee_id),
            "smartcar_vehicle_id": uuid.uuid4().hex,
            "make": "TESLA",
        },
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return VehicleRow(UUID(body["id"]), UUID(body["fleet_id"]), UUID(body["employee_id"]))


async def _approve(client: Client, headers: dict[str, str], item: LineItem) -> int:
    resp = await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": item.version}, headers=headers
    )
    return resp.status


async def _status(pool: Pool, item: LineItem) -> str:
    status: str = await pool.fetchval("SELECT status FROM line_items WHERE id = $1", item.id)
    return status


async def test_a_second_record_made_by_the_bound_key_is_still_its_own_money(
    client: Client, office: Office, pool: Pool
) -> None:
    resp = await client.post(
        "/v1/employees",
        json={"fleet_id": str(office.fleet.id), "external_ref": "EM-2", "name": "Me again"},
        headers=office.bound,
    )
    assert resp.status == 201, await resp.text()
    second = UUID((await resp.json())["id"])
    vehicle = await _vehicle(client, office.other, second)  # even linked by someone else
    item = await office.items.priced_day(vehicle, office.tariff, date(2024, 3, 1))
    assert await _approve(client, office.bound, item) == 403
    assert await _status(pool, item) == "pending"
    resp = await client.post(
        f"/v1/line-items/{item.id}/reject",
        json={"version": 1, "reason": "no"},
        headers=office.bound,
    )
    assert resp.status == 403
    # and it sets no tariff for it
    resp = await client.post(
        "/v1/tariffs",
        json={
            "fleet_id": str(office.fleet.id),
            "employee_id": str(second),
            "price_per_kwh": "9.99",
            "currency": office.fleet.currency,
            "valid_from": "2024-01-01",
        },
        headers=office.bound,
    )
    assert resp.status == 403, await resp.text()
    assert await _approve(client, office.other, item) == 200  # another manager decides


async def test_a_car_the_bound_key_linked_to_a_colleague_is_still_its_own_money(
    client: Client, office: Office, pool: Pool
) -> None:
    linked = await _vehicle(client, office.bound, office.colleague.id)
    mine = await office.items.priced_day(linked, office.tariff, date(2024, 3, 1))
    assert await _approve(client, office.bound, mine) == 403
    assert await _status(pool, mine) == "pending"
    # the colleague's own car is the colleague's money: the bound manager decides it
    theirs_vehicle = await office.items.vehicle(office.colleague)
    theirs = await office.items.priced_day(theirs_vehicle, office.tariff, date(2024, 3, 1))
    assert await _approve(client, office.bound, theirs) == 200


async def test_bulk_decisions_with_one_own_line_change_nothing(
    client: Client, office: Office, pool: Pool
) -> None:
    linked = await _vehicle(client, office.bound, office.colleague.id)
    mine = await office.items.priced_day(linked, office.tariff, date(2024, 3, 1))
    other_vehicle = await office.items.vehicle(office.colleague)
    theirs = await office.items.priced_day(other_vehicle, office.tariff, date(2024, 3, 1))
    resp = await client.post(
        "/v1/line-items/decisions",
        json={
            "decisions": [
                {"id": str(theirs.id), "decision": "approve", "version": 1},
                {"id": str(mine.id), "decision": "approve", "version": 1},
            ]
        },
        headers=office.bound,
    )
    assert resp.status == 403, await resp.text()
    assert [await _status(pool, i) for i in (theirs, mine)] == ["pending", "pending"]


async def test_a_correction_raising_the_bound_employees_money_needs_another_manager(
    client: Client, office: Office, pool: Pool
) -> None:
    own_vehicle = await office.items.vehicle(office.em)
    pending = await office.items.priced_day(own_vehicle, office.tariff, date(2024, 3, 1))
    approved = await office.items.priced_day(
        own_vehicle, office.tariff, date(2024, 3, 2), status="approved"
    )
    before = await pool.fetch("SELECT id, amount, version FROM line_items ORDER BY id")
    path = f"/v1/tariffs/{office.tariff.id}/corrections"
    resp = await client.post(path, json={"price_per_kwh": "0.90"}, headers=office.bound)
    assert resp.status == 403, await resp.text()
    assert await pool.fetch("SELECT id, amount, version FROM line_items ORDER BY id") == before
    preview = await client.post(
        f"{path}/preview", json={"price_per_kwh": "0.90"}, headers=office.bound
    )
    assert preview.status == 200  # looking is fine
    resp = await client.post(path, json={"price_per_kwh": "0.90"}, headers=office.other)
    assert resp.status == 200, await resp.text()
    raised = await pool.fetchval("SELECT amount FROM line_items WHERE id = $1", pending.id)
    assert raised > pending.amount
    adjustments = await pool.fetchval(
        "SELECT count(*) FROM line_items WHERE adjusts_id = $1", approved.id
    )
    assert adjustments == 1


async def test_a_correction_touching_a_car_the_bound_key_linked_needs_another_manager(
    client: Client, office: Office, pool: Pool
) -> None:
    linked = await _vehicle(client, office.bound, office.colleague.id)
    pending = await office.items.priced_day(linked, office.tariff, date(2024, 3, 1))
    path = f"/v1/tariffs/{office.tariff.id}/corrections"
    resp = await client.post(path, json={"price_per_kwh": "0.90"}, headers=office.bound)
    assert resp.status == 403, await resp.text()
    assert await pool.fetchval("SELECT amount FROM line_items WHERE id = $1", pending.id) == (
        pending.amount
    )
    resp = await client.post(path, json={"price_per_kwh": "0.90"}, headers=office.other)
    assert resp.status == 200, await resp.text()


async def test_an_unbound_manager_and_other_peoples_money_are_unaffected(
    client: Client, office: Office
) -> None:
    vehicle = await _vehicle(client, office.other, office.colleague.id)
    item = await office.items.priced_day(vehicle, office.tariff, date(2024, 3, 1))
    assert await _approve(client, office.other, item) == 200


async def test_a_fleet_tariff_pricing_the_bound_employees_days_needs_another_manager(
    client: Client, office: Office, pool: Pool
) -> None:
    own_vehicle = await office.items.vehicle(office.em)
    await office.items.charge_record(own_vehicle, date(1990, 1, 5))  # no tariff covers it
    body = {
        "fleet_id": str(office.fleet.id),
        "price_per_kwh": "5.00",
        "currency": office.fleet.currency,
        "valid_from": "1990-01-01",
        "valid_to": "1990-02-01",
    }
    resp = await client.post("/v1/tariffs", json=body, headers=office.bound)
    assert resp.status == 403, await resp.text()
    assert await pool.fetchval("SELECT count(*) FROM line_items") == 0
    # a range with none of the employee's unpriced days is fine
    elsewhere = {**body, "valid_from": "1991-01-01", "valid_to": "1991-02-01"}
    assert (await client.post("/v1/tariffs", json=elsewhere, headers=office.bound)).status == 201
    resp = await client.post("/v1/tariffs", json=body, headers=office.other)
    assert resp.status == 201, await resp.text()
    assert await pool.fetchval("SELECT count(*) FROM line_items") == 1


async def test_the_cap_of_a_record_the_bound_key_made_is_not_its_to_raise(
    client: Client, office: Office
) -> None:
    resp = await client.post(
        "/v1/employees",
        json={"fleet_id": str(office.fleet.id), "external_ref": "EM-2", "name": "Me again"},
        headers=office.bound,
    )
    second = (await resp.json())["id"]
    path = f"/v1/employees/{second}"
    resp = await client.patch(path, json={"monthly_cap": "999"}, headers=office.bound)
    assert resp.status == 403, await resp.text()
    assert (await client.patch(path, json={"name": "Renamed"}, headers=office.bound)).status == 200
    assert (
        await client.patch(path, json={"monthly_cap": "50"}, headers=office.other)
    ).status == 200
