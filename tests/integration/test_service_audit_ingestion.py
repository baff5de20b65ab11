"""Storing an answer through the ingestion service writes exactly one audit event per effect:
one `line_item/create` per new line, one `charge_record/restate` per restated day (with the
line it re-prices), nothing for an answer that changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.db.pool import Pool
from billing.db.records import VehicleOwner
from billing.services.ingestion import IngestResult, store_answer
from billing.smartcar.records import ChargeRecordsResult, UpstreamChargeRecord
from tests.audit_log import AuditLog
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory

ZONE = "Europe/Berlin"
ACTOR = "sync:test"


def _answer(days: dict[int, str], request_id: str) -> ChargeRecordsResult:
    """March 2025's days of `days` with their home kWh, nothing charged elsewhere."""
    zone = ZoneInfo(ZONE)
    return ChargeRecordsResult(
        records=tuple(
            UpstreamChargeRecord(
                day_start=datetime(2025, 3, day, tzinfo=zone),
                home_kwh=Decimal(home),
                other_kwh=Decimal(0),
                supercharger_kwh=Decimal(0),
                total_kwh=Decimal(home),
                raw={"date": f"2025-03-{day:02}", "home": home},
            )
            for day, home in days.items()
        ),
        request_id=request_id,
        fetched_at=datetime(2025, 4, 2, tzinfo=UTC),
    )


async def test_storing_an_answer_writes_one_event_per_effect(factory: Factory, pool: Pool) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30", valid_from=date(2025, 1, 1))
    employee = await factory.employee(fleet, timezone=ZONE)
    vehicle = await LineItemFactory(pool).vehicle(employee)
    owner = VehicleOwner(vehicle.id, employee.id, fleet.id, ZONE)
    log = AuditLog(pool)
    await log.skip()

    first = {1: "10", 2: "12", 3: "8"}
    stored = await store_answer(pool, owner, _answer(first, "req-1"), actor=ACTOR)
    assert stored == IngestResult(records=3, line_items=3, unpriced=0)
    records = {
        row["charge_date"].day: row["id"]
        for row in await pool.fetch("SELECT id, charge_date FROM charge_records")
    }
    lines = {
        row["charge_record_id"]: row["id"]
        for row in await pool.fetch("SELECT id, charge_record_id FROM line_items")
    }
    # a new day is no event of its own: its line is
    assert await log.new() == [
        ("line_item", lines[records[day]], "create", ACTOR) for day in (1, 2, 3)
    ]

    # the same figures again change nothing and record nothing
    again = await store_answer(pool, owner, _answer(first, "req-2"), actor=ACTOR)
    assert again == IngestResult(0, 0, 0)
    assert await log.new() == []

    # two days restated: one event each, then one for each line re-priced, in day order
    restated = await store_answer(
        pool, owner, _answer({1: "10", 2: "14", 3: "9"}, "req-3"), actor=ACTOR
    )
    assert restated == IngestResult(records=2, line_items=2, unpriced=0)
    assert await log.new() == [
        ("charge_record", records[2], "restate", ACTOR),
        ("charge_record", records[3], "restate", ACTOR),
        ("line_item", lines[records[2]], "restate", ACTOR),
        ("line_item", lines[records[3]], "restate", ACTOR),
    ]
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE actor = $1", ACTOR) == 7
