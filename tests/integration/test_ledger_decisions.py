"""Restatements after decisions, through ingestion and the decision API, in the database.

A rejected amount was never paid, so it is never clawed back; a claw-back a manager refused
is not paid out again when the figure returns (billing.domain.ledger states the rule).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from billing.db.pool import Pool
from billing.db.records import VehicleOwner
from billing.services.ingestion import store_answer
from billing.smartcar.records import ChargeRecordsResult, UpstreamChargeRecord
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory

Client = TestClient[Any, Any]
DAY = date(2025, 3, 1)
ZONE = "Europe/Berlin"


def read(home: str, n: int) -> ChargeRecordsResult:
    record = UpstreamChargeRecord(
        day_start=datetime(DAY.year, DAY.month, DAY.day, tzinfo=ZoneInfo(ZONE)),
        home_kwh=Decimal(home),
        other_kwh=Decimal(0),
        supercharger_kwh=Decimal(0),
        total_kwh=Decimal(home),
        raw={"date": DAY.isoformat(), "home": home},
    )
    return ChargeRecordsResult(
        records=(record,), request_id=f"req-{n}", fetched_at=datetime(2025, 4, 2, tzinfo=UTC)
    )


class Books:
    def __init__(self, client: Client, pool: Pool, owner: VehicleOwner, manager: str) -> None:
        self.client, self.pool, self.owner, self.manager = client, pool, owner, manager
        self.reads = 0

    async def restate(self, home: str) -> None:
        self.reads += 1
        await store_answer(self.pool, self.owner, read(home, self.reads), actor="test")

    async def lines(self) -> list[tuple[str, str, Decimal]]:
        rows = await self.pool.fetch(
            "SELECT kind, status, amount FROM line_items ORDER BY created_at, id"
        )
        return [(r["kind"], r["status"], r["amount"]) for r in rows]

    async def decide_pending(self, action: str) -> None:
        row = await self.pool.fetchrow(
            "SELECT id, version FROM line_items WHERE status = 'pending'"
        )
        assert row is not None
        resp = await self.client.post(
            f"/v1/line-items/{row['id']}/{action}",
            json={
                "version": row["version"],
                **({"reason": "checked"} if action == "reject" else {}),
            },
            headers=Factory.auth(self.manager),
        )
        assert resp.status == 200, await resp.text()


async def books(client: Client, factory: Factory, pool: Pool) -> Books:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30", valid_from=date(2025, 1, 1))
    employee = await factory.employee(fleet, timezone=ZONE)
    vehicle = await LineItemFactory(pool).vehicle(employee)
    owner = VehicleOwner(vehicle.id, employee.id, fleet.id, ZONE)
    return Books(client, pool, owner, await factory.key("manager", fleet))


async def test_a_rejected_day_restated_downwards_claws_nothing_back(
    client: Client, factory: Factory, pool: Pool
) -> None:
    b = await books(client, factory, pool)
    await b.restate("10")
    await b.decide_pending("reject")
    await b.restate("5")  # before: a pending -1.50 for money never paid
    assert await b.lines() == [("charge", "rejected", Decimal("3.00"))]
    await b.restate("10")  # the rejection is final: nothing put up again
    assert await b.lines() == [("charge", "rejected", Decimal("3.00"))]
    await b.restate("12")  # only the rise beyond the refused figure
    assert await b.lines() == [
        ("charge", "rejected", Decimal("3.00")),
        ("adjustment", "pending", Decimal("0.60")),
    ]


async def test_a_refused_clawback_is_not_paid_out_again_when_the_figure_returns(
    client: Client, factory: Factory, pool: Pool
) -> None:
    b = await books(client, factory, pool)
    await b.restate("10")
    await b.decide_pending("approve")
    await b.restate("8")
    await b.decide_pending("reject")  # the manager refuses the claw-back of 0.60
    decided = [
        ("charge", "approved", Decimal("3.00")),
        ("adjustment", "rejected", Decimal("-0.60")),
    ]
    assert await b.lines() == decided
    await b.restate("10")  # before: a pending +0.60, paying 3.60 for a 3.00 day
    assert await b.lines() == decided
    await b.restate("6")  # a new fall: only the part below the refused figure
    assert await b.lines() == [*decided, ("adjustment", "pending", Decimal("-0.60"))]
