"""Approving, rejecting and reopening line items: one transaction, rows locked in id order."""

from __future__ import annotations

from collections.abc import Sequence

from billing.db.pool import Pool, transaction
from billing.domain.access import Principal
from billing.domain.decisions import Requested
from billing.domain.line_items import LineItem
from billing.services import money


async def decide(pool: Pool, who: Principal, requests: Sequence[Requested]) -> list[LineItem]:
    """All or nothing: a stale version or a forbidden item raises and changes nothing."""
    async with transaction(pool) as conn:
        return await money.decide(conn, who, requests)
