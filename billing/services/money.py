"""Deciding and changing money: no key decides, raises or creates money for the person it is
bound to, directly or through records and vehicle links that person's keys created.

A key bound to an employee (a manager who is also paid by the fleet) may still manage the
fleet; what touches that employee's own money (`Own`) needs another manager.
"""

from __future__ import annotations

from collections.abc import Sequence

from billing.db import audit, corrections, duties, line_items
from billing.db.pool import Connection
from billing.domain.access import Principal
from billing.domain.correction_results import Correction
from billing.domain.corrections import CorrectionBody
from billing.domain.decisions import Requested
from billing.domain.errors import Forbidden
from billing.domain.line_items import LineItem
from billing.domain.models import Employee, EmployeeUpdate, Tariff, TariffCreate

NEEDS_ANOTHER_MANAGER = "another manager"


async def decide(conn: Connection, who: Principal, requests: Sequence[Requested]) -> list[LineItem]:
    """Approve, reject or reopen, all or nothing (approve, reject, reopen and bulk)."""
    decided = await line_items.decide(conn, who, requests, await duties.own_of(conn, who))
    await audit.record_batches(conn, actor=who.actor, batches=decided.events)
    return decided.items


async def check_may_price_for(conn: Connection, who: Principal, employee: Employee) -> None:
    """An employee's own tariff: not by a key for whom the employee's money is its own."""
    if (await duties.own_of(conn, who)).holds(employee.id):
        raise Forbidden(
            "this employee record was created by keys of the employee this key is bound to; "
            f"{NEEDS_ANOTHER_MANAGER} sets its tariff"
        )


async def apply_correction(
    conn: Connection, who: Principal, tariff: Tariff, body: CorrectionBody
) -> Correction:
    """Correct a tariff, unless the correction would touch the caller's own money."""
    own = await duties.own_of(conn, who)
    if own.employees or own.vehicles:
        touched = await corrections.preview(conn, tariff, body)
        employees = {line.employee_id for line in touched.updated}
        employees |= {line.employee_id for line in touched.created}
        records = {line.charge_record_id for line in touched.updated}
        records |= {line.charge_record_id for line in touched.created}
        cars = await duties.vehicles_of_records(conn, sorted(records))
        if any(own.holds(employee_id) for employee_id in employees) or cars & own.vehicles:
            raise Forbidden(
                "this correction changes the money of the employee this key is bound to (or of "
                f"records that employee's keys created); {NEEDS_ANOTHER_MANAGER} applies it"
            )
    applied = await corrections.apply(conn, tariff, body, actor=who.actor)
    await audit.record_batches(conn, actor=who.actor, batches=applied.events)
    return applied.correction


async def check_may_create_tariff(conn: Connection, who: Principal, body: TariffCreate) -> None:
    """A fleet tariff prices every unpriced day in its range: not by a key whose own days
    (see `Own`) are among them."""
    if body.employee_id is not None:
        return  # an employee's own tariff: `check_may_price_for`
    own = await duties.own_of(conn, who)
    if await duties.prices_own_days(conn, own, body.fleet_id, body.valid_from, body.valid_to):
        raise Forbidden(
            "this tariff would price unpriced days of the employee this key is bound to (or of "
            f"records that employee's keys created); {NEEDS_ANOTHER_MANAGER} creates it"
        )


async def check_may_update(
    conn: Connection, who: Principal, employee: Employee, body: EmployeeUpdate
) -> None:
    """A monthly cap is money: not changed for a record whose money is the key's own."""
    if "monthly_cap" in body.model_fields_set and (await duties.own_of(conn, who)).holds(
        employee.id
    ):
        raise Forbidden(
            "this employee record was created by keys of the employee this key is bound to; "
            f"{NEEDS_ANOTHER_MANAGER} changes its monthly cap"
        )
