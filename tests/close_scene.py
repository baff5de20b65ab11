"""A fleet ready for the month-end close: approved lines in a past month, keys per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from billing.db.pool import Pool, transaction
from billing.domain.access import Principal
from billing.domain.decisions import Requested
from billing.domain.line_items import LineItem
from billing.services import money
from billing.services.common import system
from tests.line_item_factories import Scene

NOW = datetime(2025, 4, 10, 9, 0, tzinfo=UTC)
MARCH = "2025-03"
ADMIN: Principal = system("test")


async def approve(pool: Pool, *items: LineItem) -> list[LineItem]:
    """Approve through the decision code path, as a manager would."""
    async with transaction(pool) as conn:
        return await money.decide(
            conn, ADMIN, [Requested(item.id, "approve", item.version) for item in items]
        )


async def approved_days(scene: Scene, employee_id: UUID, days: list[int]) -> list[LineItem]:
    employee = scene.me if employee_id == scene.me.id else scene.colleague
    pending = [await scene.pending(employee, date(2025, 3, d)) for d in days]
    return await approve(scene.items.pool, *pending)


@dataclass
class Totals:
    statements: str
    credit_notes: str


async def statement_ids(pool: Pool, fleet_id: UUID, status: str) -> list[UUID]:
    rows = await pool.fetch(
        "SELECT id FROM statements WHERE fleet_id = $1 AND status = $2 ORDER BY number, id",
        fleet_id,
        status,
    )
    return [row["id"] for row in rows]
