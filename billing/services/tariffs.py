"""Tariffs: effective-dated prices per kWh for a fleet or one employee."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from billing.db import audit, ledger, master
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import InvalidData
from billing.domain.models import Tariff, TariffCreate
from billing.services import money


class CurrencyMismatch(InvalidData):
    """A tariff's currency must be its fleet's."""

    def __init__(self, fleet_currency: str) -> None:
        super().__init__(f"must be the fleet's ({fleet_currency})")


async def create_tariff(pool: Pool, who: Principal, body: TariffCreate) -> Tariff:
    """Overlapping another tariff of the same scope is a Conflict. Days that had home energy
    but no tariff are priced at once, without waiting for a sync."""
    who.check_manages(body.fleet_id, what="fleet")
    actor = who.actor
    async with transaction(pool) as conn:
        await master.lock_fleet_tariffs(conn, body.fleet_id)
        fleet = await master.get_fleet(conn, body.fleet_id)
        if body.currency != fleet.currency:
            raise CurrencyMismatch(fleet.currency)
        if body.employee_id is not None:
            employee = await master.get_employee(conn, body.employee_id)
            who.check_manages(employee.fleet_id, employee.id, what="employee")
            await money.check_may_price_for(conn, who, employee)
        await money.check_may_create_tariff(conn, who, body)
        tariff = await master.insert_tariff(conn, body)
        await audit.record(
            conn,
            actor=actor,
            fleet_id=tariff.fleet_id,
            entity="tariff",
            entity_id=tariff.id,
            action="create",
            after=tariff,
        )
        priced = await ledger.price_unpriced(
            conn,
            fleet_id=tariff.fleet_id,
            employee_id=tariff.employee_id,
            valid_from=tariff.valid_from,
            valid_to=tariff.valid_to,
        )
        await audit.record_batches(conn, actor=actor, batches=priced.events)
    return tariff


async def list_tariffs(
    pool: Pool,
    who: Principal,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    on: date | None,
    after: After,
    limit: int,
) -> list[Tariff]:
    """An employee sees their own tariffs and the fleet's defaults."""
    own = who.scope_employee(employee_id)
    scoped = who.scope_fleet(fleet_id)
    async with connection(pool) as conn:
        return await master.list_tariffs(
            conn,
            fleet_id=scoped,
            employee_id=own,
            with_fleet_defaults=who.role == "employee",
            on=on,
            after=after,
            limit=limit,
        )


async def get_tariff(pool: Pool, who: Principal, tariff_id: UUID) -> Tariff:
    async with connection(pool) as conn:
        tariff = await master.get_tariff(conn, tariff_id)
    who.check_sees(tariff.fleet_id, tariff.employee_id, what="tariff")
    return tariff
