"""The fleet summary, read in one snapshot."""

from __future__ import annotations

from datetime import date, timedelta
from typing import get_args
from uuid import UUID

from billing.db import vehicles
from billing.db.pages import MAX_LIMIT, After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.line_items import in_minor_units
from billing.domain.models import Fleet, SyncState, Vehicle
from billing.domain.summary import (
    WINDOW_WARNING_DAYS,
    FleetSummary,
    PendingTotal,
    UnpricedDays,
    WindowAtRisk,
)

_q = queries("summary")
_SYNC_STATES: tuple[str, ...] = get_args(SyncState)


async def _all_vehicles(conn: Connection, fleet_id: UUID) -> list[Vehicle]:
    found: list[Vehicle] = []
    after = After()
    while True:
        page = await vehicles.list_vehicles(
            conn, fleet_id=fleet_id, employee_id=None, sync_state=None, after=after, limit=MAX_LIMIT
        )
        found.extend(page)
        if len(page) < MAX_LIMIT:
            return found
        after = After(page[-1].created_at, page[-1].id)


async def fleet_summary(conn: Connection, fleet: Fleet, *, today: date) -> FleetSummary:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        pending = await conn.fetch(_q.pending_totals, fleet.id)
        unpriced = await conn.fetch(_q.unpriced_days, fleet.id)
        budget = await conn.fetchval(_q.budget_left)
        fleet_vehicles = await _all_vehicles(conn, fleet.id)
    by_state = dict.fromkeys(_SYNC_STATES, 0)
    at_risk = []
    for vehicle in fleet_vehicles:
        by_state[vehicle.sync.state] = by_state.get(vehicle.sync.state, 0) + 1
        deadline = vehicle.sync.window_deadline
        if deadline is not None and deadline <= today + timedelta(days=WINDOW_WARNING_DAYS):
            at_risk.append(
                WindowAtRisk(
                    vehicle_id=vehicle.id,
                    employee_id=vehicle.employee_id,
                    sync_state=vehicle.sync.state,
                    synced_through=vehicle.sync.synced_through,
                    window_deadline=deadline,
                    days_left=(deadline - today).days,
                )
            )
    at_risk.sort(key=lambda risk: (risk.window_deadline, str(risk.vehicle_id)))
    return FleetSummary(
        fleet_id=fleet.id,
        as_of=today,
        pending=[
            PendingTotal.model_validate(
                {**dict(row), "amount": in_minor_units(row["amount"], row["currency"])}
            )
            for row in pending
        ],
        unpriced=[UnpricedDays.model_validate(dict(row)) for row in unpriced],
        vehicles_by_sync_state=by_state,
        window_at_risk=at_risk,
        budget_left=budget,
    )
