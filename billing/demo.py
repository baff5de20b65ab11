"""Demo data: a fleet with a dozen employees and tariffs, and one API key per role."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from billing.db import apikeys, audit, master
from billing.db.pool import Pool, transaction
from billing.domain.access import ROLES
from billing.domain.models import EmployeeCreate, FleetCreate, TariffCreate

DEMO_FLEET = "Demo Fleet GmbH"
ACTOR = "demo:seed"
_PEOPLE = [
    ("Anna Schmidt", "Europe/Berlin"),
    ("Ben Müller", "Europe/Berlin"),
    ("Clara Weber", "Europe/Berlin"),
    ("David Fischer", "Europe/Berlin"),
    ("Elif Yilmaz", "Europe/Berlin"),
    ("Felix Wagner", "Europe/Vienna"),
    ("Greta Becker", "Europe/Berlin"),
    ("Hannah Hoffmann", "Europe/Zurich"),
    ("Ilias Papadopoulos", "Europe/Athens"),
    ("Jonas Koch", "Europe/Berlin"),
    ("Katarzyna Nowak", "Europe/Warsaw"),
    ("Lukas Richter", "Europe/Berlin"),
]
# Employees with their own contract price; the others get the fleet default.
_OWN_PRICES = {1: Decimal("0.3412"), 4: Decimal("0.2987"), 7: Decimal("0.3650")}


@dataclass(frozen=True)
class DemoKeys:
    keys: dict[str, str]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.keys, out, indent=2)

    @classmethod
    def load(cls, path: Path) -> DemoKeys | None:
        if not path.exists():
            return None
        return cls(json.loads(path.read_text()))


async def seed(pool: Pool, keys_file: Path) -> DemoKeys:
    """Create the demo fleet once; later runs reuse it and the keys saved beside the data."""
    async with transaction(pool) as conn:
        existing = await conn.fetchval("SELECT id FROM fleets WHERE name = $1", DEMO_FLEET)
        saved = DemoKeys.load(keys_file)
        if existing is not None and saved is not None:
            return saved
        if existing is None:
            fleet = await master.insert_fleet(
                conn, FleetCreate(name=DEMO_FLEET, currency="EUR", timezone="Europe/Berlin")
            )
            await audit.record(
                conn,
                actor=ACTOR,
                fleet_id=fleet.id,
                entity="fleet",
                entity_id=fleet.id,
                action="create",
                after=fleet,
            )
            default = await master.insert_tariff(
                conn,
                TariffCreate(
                    fleet_id=fleet.id,
                    price_per_kwh=Decimal("0.3200"),
                    currency="EUR",
                    valid_from=date(2025, 1, 1),
                    source="fleet default contract price",
                ),
            )
            await audit.record(
                conn,
                actor=ACTOR,
                fleet_id=fleet.id,
                entity="tariff",
                entity_id=default.id,
                action="create",
                after=default,
            )
            for n, (name, tz) in enumerate(_PEOPLE):
                employee = await master.insert_employee(
                    conn,
                    EmployeeCreate(
                        fleet_id=fleet.id,
                        external_ref=f"HR-{1001 + n}",
                        name=name,
                        email=f"{name.split()[0].lower()}@demo.example",
                        timezone=tz,
                    ),
                )
                await audit.record(
                    conn,
                    actor=ACTOR,
                    fleet_id=fleet.id,
                    entity="employee",
                    entity_id=employee.id,
                    action="create",
                    after=employee,
                )
                if n in _OWN_PRICES:
                    own = await master.insert_tariff(
                        conn,
                        TariffCreate(
                            fleet_id=fleet.id,
                            employee_id=employee.id,
                            price_per_kwh=_OWN_PRICES[n],
                            currency="EUR",
                            valid_from=date(2025, 1, 1),
                            source="employee's own contract",
                        ),
                    )
                    await audit.record(
                        conn,
                        actor=ACTOR,
                        fleet_id=fleet.id,
                        entity="tariff",
                        entity_id=own.id,
                        action="create",
                        after=own,
                    )
            fleet_id = fleet.id
        else:
            fleet_id = existing
        first_employee = await conn.fetchval(
            "SELECT id FROM employees WHERE fleet_id = $1 ORDER BY external_ref LIMIT 1", fleet_id
        )
        keys: dict[str, str] = {}
        for role in ROLES:
            keys[role] = await apikeys.create_key(
                conn,
                role=role,
                fleet_id=None if role == "admin" else fleet_id,
                employee_id=first_employee if role == "employee" else None,
                name=f"demo {role}",
            )
    demo_keys = DemoKeys(keys)
    demo_keys.save(keys_file)
    return demo_keys
