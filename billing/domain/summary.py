"""A fleet at a glance: what waits for approval, what cannot be priced, what may be lost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import Field

from billing.domain.models import Record, SyncState

# A vehicle whose window closes within this many days is listed as at risk.
WINDOW_WARNING_DAYS = 5


class PendingTotal(Record):
    employee_id: UUID
    external_ref: str
    name: str
    period: str
    currency: str
    count: int
    amount: Decimal


class UnpricedDays(Record):
    """Charge records with home kWh and no charge line: typically no tariff for those days."""

    employee_id: UUID
    external_ref: str
    name: str
    days: int
    records: int
    kwh: Decimal
    first_day: date
    last_day: date


class WindowAtRisk(Record):
    vehicle_id: UUID
    employee_id: UUID
    sync_state: SyncState
    synced_through: date | None
    window_deadline: date
    days_left: int = Field(description="negative once the deadline has passed")


class FleetSummary(Record):
    fleet_id: UUID
    as_of: date
    pending: list[PendingTotal]
    unpriced: list[UnpricedDays]
    vehicles_by_sync_state: dict[str, int]
    window_at_risk: list[WindowAtRisk] = Field(
        description=f"vehicles whose 30-day window closes within {WINDOW_WARNING_DAYS} days"
    )
    budget_left: Decimal | None = Field(
        description="Smartcar requests left in the shared budget; null before the first sync"
    )
