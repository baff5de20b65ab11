"""The line-item list as PostgreSQL writes it: byte for byte what pydantic writes for the
same rows, whatever the data, the filters, the page and the session's settings."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from billing.db import line_items
from billing.db.pages import After, decode_cursor, next_cursor
from billing.db.pool import Connection, Pool
from billing.domain.line_items import LineItem, LineItemPage
from billing.domain.models import Fleet, Tariff
from billing.services import statements
from tests.close_scene import ADMIN, NOW
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory, VehicleRow

Client = TestClient[Any, Any]

INSERT = """
INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period,
    kind, adjusts_id, kwh, unit_price, currency, amount, tariff_id, status, decided_by,
    decided_at, reason, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::numeric, $10::text::numeric, $11,
        $12::text::numeric, $13, $14, $15, $16::text::timestamptz, $17, $18::text::timestamptz,
        $19::text::timestamptz)
RETURNING id
"""

# Timestamps as written in several zones, with and without (and with little) microseconds.
STAMPS = (
    "2025-03-01 08:00:00+00",
    "2025-03-01 23:59:59.999999-11:00",
    "2025-03-02 00:00:00.000001+14:00",
    "2025-03-02 12:30:00.5+05:30",
    "2025-03-03 04:05:06.120000+01",
    "1999-12-31 23:59:59.9-03:30",
)
TEXTS = (
    None,
    'a "quoted" \\ backslash',
    "line\nbreak\ttab\r\x01\x1f\x7f",
    "Ümlaut, € and 😀 </script>",
    "",
)


@dataclass
class Fleets:
    by_currency: dict[str, tuple[Fleet, Tariff, VehicleRow]]
    keys: dict[str, str]


async def _line(
    pool: Pool,
    fleet: Fleet,
    tariff: Tariff,
    vehicle: VehicleRow,
    record_id: UUID,
    *,
    day: date,
    kwh: str,
    amount: str,
    unit_price: str = "0.300000",
    adjusts: UUID | None = None,
    status: str = "pending",
    reason: str | None = None,
    decided_by: str | None = None,
    decided_at: str | None = None,
    created_at: str = STAMPS[0],
    updated_at: str = STAMPS[0],
) -> UUID:
    line_id: UUID = await pool.fetchval(
        INSERT,
        fleet.id,
        vehicle.employee_id,
        vehicle.id,
        record_id,
        day,
        day.strftime("%Y-%m"),
        "charge" if adjusts is None else "adjustment",
        adjusts,
        kwh,
        unit_price,
        fleet.currency,
        amount,
        tariff.id,
        status,
        decided_by if status != "pending" else None,
        decided_at if status != "pending" else None,
        reason,
        created_at,
        updated_at,
    )
    return line_id


# (kwh, amount, unit price) per currency: zero, negative (adjustments), the widest figures
FIGURES = {
    "EUR": [("10.5", "3.15", "0.300000"), ("0", "0.00", "0.000000"), ("-2.25", "-0.68", None)],
    "JPY": [("12.3456", "370", "30.000000"), ("0.0000", "0", "0.000001"), ("-1", "-30", None)],
    "KWD": [
        ("999999.123456789012345678901234", "1234.567", "123456.123456"),
        ("-0.5", "-0.05", None),
    ],
    "CLF": [("0.0000001", "0.0001", "0.100000"), ("-0.00000012", "-0.1234", None)],
}


async def _fleets(factory: Factory) -> Fleets:
    items = LineItemFactory(factory.pool)
    by_currency: dict[str, tuple[Fleet, Tariff, VehicleRow]] = {}
    keys: dict[str, str] = {"admin": await factory.key("admin")}
    stamps, texts = iter(STAMPS * 10), iter(TEXTS * 10)
    statuses = iter(["pending", "approved", "rejected"] * 10)
    for n, (currency, figures) in enumerate(FIGURES.items()):
        fleet = await factory.fleet(currency=currency, timezone="Pacific/Chatham")
        tariff = await factory.tariff(fleet, "0.30", currency=currency)
        vehicle = await items.vehicle(await factory.employee(fleet))
        by_currency[currency] = (fleet, tariff, vehicle)
        keys[currency] = await factory.key("hr", fleet)
        charge: UUID | None = None
        for k, (kwh, amount, price) in enumerate(figures):
            day = date(2025, 3 - (k % 2), 1 + n + k)
            record = await items.charge_record(vehicle, day)
            status = next(statuses) if charge is None or price is None else "pending"
            text = next(texts)
            line = await _line(
                factory.pool,
                fleet,
                tariff,
                vehicle,
                record.id,
                day=day,
                kwh=kwh,
                amount=amount,
                unit_price=price or "0.300000",
                adjusts=charge if price is None else None,
                status=status,
                reason="refused" if status == "rejected" and text is None else text,
                decided_by="api_key:fb_manager_x" if text is None else text,
                decided_at=next(stamps),
                created_at=next(stamps),
                updated_at=next(stamps),
            )
            charge = charge or line
    return Fleets(by_currency, keys)


async def _expected(
    pool: Pool, limit: int, after: After | None = None, **filters: Any
) -> tuple[bytes, list[LineItem]]:
    """The page as the API wrote it before PostgreSQL did: pydantic over the rows."""
    unfiltered = dict.fromkeys(("fleet_id", "employee_id", "vehicle_id", "status", "kind"))
    async with pool.acquire() as conn:
        items = await line_items.list_line_items(
            conn, **{**unfiltered, "period": None, **filters}, after=after or After(), limit=limit
        )
    page = LineItemPage(items=items, next_cursor=next_cursor(items, limit))
    return page.model_dump_json().encode(), items


def _keys_in_order(body: bytes) -> list[list[str]]:
    pairs: list[list[str]] = []

    def record(kv: list[tuple[str, Any]]) -> dict[str, Any]:
        pairs.append([k for k, _ in kv])
        return dict(kv)

    json.loads(body, object_pairs_hook=record)
    return pairs


@pytest.fixture
async def fleets(factory: Factory) -> Fleets:
    return await _fleets(factory)


async def test_every_page_is_byte_for_byte_the_pydantic_rendering(
    client: Client, fleets: Fleets, pool: Pool
) -> None:
    headers = {"Authorization": f"Bearer {fleets.keys['admin']}"}
    other = await client.get("/v1/fleets", headers=headers)  # rendered from its model
    for limit in (1, 2, 3, 100, 500):
        cursor: str | None = None
        pages = 0
        while True:
            params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
            resp = await client.get("/v1/line-items", params=params, headers=headers)
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"] == other.headers["Content-Type"]
            body = await resp.read()
            expected, items = await _expected(pool, limit, decode_cursor(cursor))
            assert body == expected
            assert json.loads(body) == json.loads(expected)
            fields = list(LineItem.model_fields)
            assert _keys_in_order(body) == [fields] * len(items) + [["items", "next_cursor"]]
            pages += 1
            cursor = json.loads(body)["next_cursor"]
            if cursor is None:
                break
        assert pages == 1 + 10 // limit


async def test_every_fleet_currency_and_filter_renders_the_same(
    client: Client, fleets: Fleets, pool: Pool
) -> None:
    for currency, (fleet, _tariff, vehicle) in fleets.by_currency.items():
        headers = {"Authorization": f"Bearer {fleets.keys[currency]}"}
        cases: list[tuple[dict[str, str], dict[str, Any]]] = [
            ({}, {}),
            ({"status": "pending"}, {"status": "pending"}),
            ({"status": "approved"}, {"status": "approved"}),
            ({"status": "rejected"}, {"status": "rejected"}),
            ({"kind": "adjustment"}, {"kind": "adjustment"}),
            ({"period": "2025-02"}, {"period": "2025-02"}),
            ({"employee_id": str(vehicle.employee_id)}, {"employee_id": vehicle.employee_id}),
            ({"vehicle_id": str(vehicle.id)}, {"vehicle_id": vehicle.id}),
            (
                {"from": "2025-03-02", "to": "2025-03-31"},
                {"charged_from": date(2025, 3, 2), "charged_to": date(2025, 3, 31)},
            ),
        ]
        for query, filters in cases:
            resp = await client.get("/v1/line-items", params=query, headers=headers)
            assert resp.status == 200, await resp.text()
            expected, _items = await _expected(pool, 100, fleet_id=fleet.id, **filters)
            assert await resp.read() == expected, (currency, query)


async def test_amounts_and_timestamps_read_as_the_api_shows_them(
    client: Client, fleets: Fleets
) -> None:
    resp = await client.get(
        "/v1/line-items", headers={"Authorization": f"Bearer {fleets.keys['admin']}"}
    )
    items = (await resp.json())["items"]
    by_currency: dict[str, set[str]] = {}
    for item in items:
        by_currency.setdefault(item["currency"], set()).add(item["amount"])
    assert by_currency == {
        "EUR": {"3.15", "0.00", "-0.68"},
        "JPY": {"370", "0", "-30"},
        "KWD": {"1234.567", "-0.050"},
        "CLF": {"0.0001", "-0.1234"},
    }
    assert {item["kwh"] for item in items} >= {"1E-7", "-1.2E-7", "0.0000", "10.5000"}
    stamps = {item[key] for item in items for key in ("decided_at", "created_at", "updated_at")}
    assert "2025-03-02T10:59:59.999999Z" in stamps  # 23:59:59.999999-11:00
    assert "2025-03-01T10:00:00.000001Z" in stamps  # 00:00:00.000001+14:00
    assert "2025-03-01T08:00:00Z" in stamps
    assert None in stamps  # a pending line's decided_at


async def _both(conn: Connection, fleet_id: UUID | None, limit: int) -> tuple[bytes, bytes]:
    page = await line_items.list_line_items_json(
        conn,
        fleet_id=fleet_id,
        employee_id=None,
        vehicle_id=None,
        status=None,
        kind=None,
        period=None,
        after=After(),
        limit=limit,
    )
    items = await line_items.list_line_items(
        conn,
        fleet_id=fleet_id,
        employee_id=None,
        vehicle_id=None,
        status=None,
        kind=None,
        period=None,
        after=After(),
        limit=limit,
    )
    expected = LineItemPage(items=items, next_cursor=next_cursor(items, limit))
    return page.page(), expected.model_dump_json().encode()


def _random_kwh(rng: random.Random) -> str:
    """A figure the column admits: under 1,000,000, 4 to 24 decimals, often tiny or zero."""
    scale = rng.randint(4, 24)
    units = 0 if rng.random() < 0.1 else rng.randrange(10 ** rng.randint(1, scale + 6))
    sign = "-" if rng.random() < 0.5 else ""
    return f"{sign}{units // 10**scale}.{units % 10**scale:0{scale}d}"


async def test_kwh_is_written_as_python_writes_the_decimal(factory: Factory, pool: Pool) -> None:
    fleet = await factory.fleet(currency="EUR")
    tariff = await factory.tariff(fleet, "0.30")
    items = LineItemFactory(pool)
    vehicle = await items.vehicle(await factory.employee(fleet))
    record = await items.charge_record(vehicle, date(2025, 3, 1))
    charge = await _line(
        pool, fleet, tariff, vehicle, record.id, day=record.charge_date, kwh="1", amount="0.30"
    )
    rng = random.Random(20261201)
    figures = [_random_kwh(rng) for _ in range(400)]
    for kwh in figures:
        await _line(
            pool,
            fleet,
            tariff,
            vehicle,
            record.id,
            day=record.charge_date,
            kwh=kwh,
            amount="0.00",
            adjusts=charge,
        )
    async with pool.acquire() as conn:
        # neither the session's zone nor its date style may change a byte
        await conn.execute("SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY'")
        got, expected = await _both(conn, fleet.id, 500)
        await conn.execute("RESET TimeZone; RESET DateStyle")
    assert got == expected
    shown = {item["kwh"] for item in json.loads(got)["items"]}
    assert any("E-" in kwh for kwh in shown)
    assert any("." in kwh for kwh in shown)
    assert any(kwh.startswith("0E-") for kwh in shown)


async def test_lines_on_a_statement_render_the_same(factory: Factory, pool: Pool) -> None:
    fleet = await factory.fleet(currency="EUR")
    tariff = await factory.tariff(fleet, "0.30")
    items = LineItemFactory(pool)
    vehicle = await items.vehicle(await factory.employee(fleet))
    for day in (1, 2):
        await items.priced_day(vehicle, tariff, date(2025, 3, day), status="approved")
    await items.priced_day(vehicle, tariff, date(2025, 3, 3))
    await statements.refresh_drafts(pool, ADMIN, fleet_id=fleet.id, period="2025-03")
    await statements.finalize_period(pool, ADMIN, fleet_id=fleet.id, period="2025-03", now=NOW)
    async with pool.acquire() as conn:
        got, expected = await _both(conn, fleet.id, 100)
    assert got == expected
    linked = [item["statement_id"] for item in json.loads(got)["items"]]
    assert linked[2] is None
    assert None not in linked[:2]


async def test_an_empty_page(pool: Pool) -> None:
    async with pool.acquire() as conn:
        got, expected = await _both(conn, None, 100)
    assert got == expected == b'{"items":[],"next_cursor":null}'
