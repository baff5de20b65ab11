"""What the worker's /metrics reads from the database at scrape time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.db.pool import Connection
from billing.db.queries import queries

_q = queries("metrics")


@dataclass(frozen=True, slots=True)
class FleetGauges:
    vehicles_by_state: dict[str, int]
    days_at_risk: int
    vehicles_at_risk: int
    statements_by_status: dict[str, int]


async def fleet_gauges(conn: Connection, now: datetime, margin_days: int) -> FleetGauges:
    states = {row["sync_state"]: row["n"] for row in await conn.fetch(_q.vehicles_by_state)}
    risk = await conn.fetchrow(_q.days_at_risk, now, margin_days)
    assert risk is not None
    statements = {row["status"]: row["n"] for row in await conn.fetch(_q.statements_by_status)}
    return FleetGauges(states, int(risk["days"]), int(risk["vehicles"]), statements)
