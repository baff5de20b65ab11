"""Factories for domain objects, written straight to the test database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from billing.db import apikeys, master
from billing.db.pool import Pool, transaction
from billing.domain.access import Role
from billing.domain.models import (
    Employee,
    EmployeeCreate,
    Fleet,
    FleetCreate,
    Tariff,
    TariffCreate,
)

_counter = itertools.count(1)


@dataclass
class Factory:
    pool: Pool
    keys: dict[str, str] = field(default_factory=dict)

    async def fleet(
        self, name: str | None = None, currency: str = "EUR", timezone: str = "Europe/Berlin"
    ) -> Fleet:
        async with transaction(self.pool) as conn:
            return await master.insert_fleet(
                conn,
                FleetCreate(
                    name=name or f"Fleet {next(_counter)}", currency=currency, timezone=timezone
                ),
            )

    async def employee(
        self, fleet: Fleet, *, timezone: str | None = None, monthly_cap: Decimal | None = None
    ) -> Employee:
        n = next(_counter)
        async with transaction(self.pool) as conn:
            return await master.insert_employee(
                conn,
                EmployeeCreate(
                    fleet_id=fleet.id,
                    external_ref=f"HR-{n}",
                    name=f"Employee {n}",
                    timezone=timezone,
                    monthly_cap=monthly_cap,
                ),
            )

    async def tariff(
        self,
        fleet: Fleet,
        price: str = "0.30",
        *,
        employee: Employee | None = None,
        valid_from: date = date(2025, 1, 1),
        valid_to: date | None = None,
        currency: str | None = None,
    ) -> Tariff:
        async with transaction(self.pool) as conn:
            return await master.insert_tariff(
                conn,
                TariffCreate(
                    fleet_id=fleet.id,
                    employee_id=employee.id if employee else None,
                    price_per_kwh=Decimal(price),
                    currency=currency or fleet.currency,
                    valid_from=valid_from,
                    valid_to=valid_to,
                ),
            )

    async def key(
        self, role: Role, fleet: Fleet | None = None, employee: Employee | None = None
    ) -> str:
        async with transaction(self.pool) as conn:
            return await apikeys.create_key(
                conn,
                role=role,
                fleet_id=fleet.id if fleet else None,
                employee_id=employee.id if employee else None,
                name=f"test {role}",
            )

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def uuid_str(value: UUID) -> str:
    return str(value)
