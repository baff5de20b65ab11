"""Vehicles, charge records and line items written straight to the test database.

Ingestion creates these in production; tests of approvals and the feed only need rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from billing.db.line_items import line_item_from_row
from billing.db.pool import Pool
from billing.domain.line_items import ChargeRecord, LineItem, LineItemStatus
from billing.domain.models import Employee, Fleet, Tariff
from tests.factories import Factory

_counter = itertools.count(1)


@dataclass(frozen=True)
class VehicleRow:
    id: UUID
    fleet_id: UUID
    employee_id: UUID


@dataclass
class LineItemFactory:
    pool: Pool

    async def vehicle(
        self,
        employee: Employee,
        *,
        make: str = "TESLA",
        sync_state: str = "ok",
        synced_through: date | None = None,
        granted_on: date | None = None,
    ) -> VehicleRow:
        row = await self.pool.fetchrow(
            """
            INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make, sync_state,
                                  synced_through, access_granted_on)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING id, fleet_id, employee_id
            """,
            employee.fleet_id,
            employee.id,
            f"sc-vehicle-{next(_counter)}",
            make,
            sync_state,
            synced_through,
            granted_on,
        )
        assert row is not None
        return VehicleRow(row["id"], row["fleet_id"], row["employee_id"])

    async def charge_record(
        self,
        vehicle: VehicleRow,
        day: date,
        *,
        home_kwh: str = "10.5",
        other_kwh: str = "0",
        supercharger_kwh: str = "0",
        flags: list[str] | None = None,
    ) -> ChargeRecord:
        home, other, sc = Decimal(home_kwh), Decimal(other_kwh), Decimal(supercharger_kwh)
        raw = {"date": day.isoformat(), "home": home_kwh, "other": other_kwh, "sc": str(sc)}
        row = await self.pool.fetchrow(
            """
            INSERT INTO charge_records (vehicle_id, employee_id, charge_date, home_kwh, other_kwh,
                supercharger_kwh, total_kwh, raw, source, request_id, fetched_at, flags)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'smartcar', $9, $10, $11)
            RETURNING *
            """,
            vehicle.id,
            vehicle.employee_id,
            day,
            home,
            other,
            sc,
            home + other + sc,
            raw,
            f"req-{next(_counter)}",
            datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
            flags or [],
        )
        assert row is not None
        return ChargeRecord.model_validate(dict(row))

    async def line_item(
        self,
        record: ChargeRecord,
        tariff: Tariff,
        *,
        fleet_id: UUID | None = None,
        kwh: str | None = None,
        status: LineItemStatus = "pending",
        adjusts: LineItem | None = None,
        statement_id: UUID | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> LineItem:
        energy = Decimal(kwh) if kwh is not None else record.home_kwh
        amount = (energy * tariff.price_per_kwh).quantize(Decimal("0.01"), ROUND_HALF_UP)
        decided = status != "pending"
        row = await self.pool.fetchrow(
            """
            INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id,
                charge_date, period, kind, adjusts_id, kwh, unit_price, currency, amount,
                tariff_id, status, decided_by, decided_at, reason, statement_id, evidence)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19)
            RETURNING *
            """,
            fleet_id or tariff.fleet_id,
            record.employee_id,
            record.vehicle_id,
            record.id,
            record.charge_date,
            record.charge_date.strftime("%Y-%m"),
            "adjustment" if adjusts is not None else "charge",
            adjusts.id if adjusts is not None else None,
            energy,
            tariff.price_per_kwh,
            tariff.currency,
            amount,
            tariff.id,
            status,
            "api_key:fb_test" if decided else None,
            datetime.now(UTC) if decided else None,
            "seeded" if status == "rejected" else None,
            statement_id,
            evidence if evidence is not None else {"priced_by": "test"},
        )
        assert row is not None
        return line_item_from_row(row)

    async def priced_day(
        self,
        vehicle: VehicleRow,
        tariff: Tariff,
        day: date,
        *,
        home_kwh: str = "10.5",
        status: LineItemStatus = "pending",
    ) -> LineItem:
        """A charge record for `day` and its charge line."""
        record = await self.charge_record(vehicle, day, home_kwh=home_kwh)
        return await self.line_item(record, tariff, status=status)

    async def set_budget(self, tokens: str) -> None:
        await self.pool.execute(
            "INSERT INTO smartcar_budget (id, tokens) VALUES (1, $1)"
            " ON CONFLICT (id) DO UPDATE SET tokens = EXCLUDED.tokens",
            Decimal(tokens),
        )


ROLES = ("admin", "manager", "hr", "employee", "bound_manager")


@dataclass
class Scene:
    """Two fleets: in `fleet`, `me` (the employee keys' own) and `colleague`; `other` abroad.

    `keys` holds one API key per role of ROLES, all of `fleet` (admin: of none); the employee
    key and the bound manager key are bound to `me`. `other_manager` manages `other_fleet`.
    """

    fleet: Fleet
    other_fleet: Fleet
    me: Employee
    colleague: Employee
    stranger: Employee
    tariff: Tariff
    other_tariff: Tariff
    vehicles: dict[UUID, VehicleRow]
    keys: dict[str, str]
    other_manager: str
    items: LineItemFactory

    def vehicle_of(self, employee: Employee) -> VehicleRow:
        return self.vehicles[employee.id]

    def tariff_of(self, employee: Employee) -> Tariff:
        return self.other_tariff if employee.fleet_id == self.other_fleet.id else self.tariff

    async def pending(self, employee: Employee, day: date, *, home_kwh: str = "10.5") -> LineItem:
        """A fresh pending charge line of `employee` (one per vehicle and day)."""
        return await self.items.priced_day(
            self.vehicle_of(employee), self.tariff_of(employee), day, home_kwh=home_kwh
        )


async def build_scene(factory: Factory) -> Scene:
    fleet = await factory.fleet()
    other_fleet = await factory.fleet()
    me = await factory.employee(fleet)
    colleague = await factory.employee(fleet)
    stranger = await factory.employee(other_fleet)
    tariff = await factory.tariff(fleet, "0.30")
    other_tariff = await factory.tariff(other_fleet, "0.25")
    items = LineItemFactory(factory.pool)
    vehicles = {e.id: await items.vehicle(e) for e in (me, colleague, stranger)}
    keys = {
        "admin": await factory.key("admin"),
        "manager": await factory.key("manager", fleet),
        "hr": await factory.key("hr", fleet),
        "employee": await factory.key("employee", fleet, me),
        "bound_manager": await factory.key("manager", fleet, me),
    }
    return Scene(
        fleet=fleet,
        other_fleet=other_fleet,
        me=me,
        colleague=colleague,
        stranger=stranger,
        tariff=tariff,
        other_tariff=other_tariff,
        vehicles=vehicles,
        keys=keys,
        other_manager=await factory.key("manager", other_fleet),
        items=items,
    )
