"""Price corrections over HTTP: the preview is what applying does, line for line."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from billing.db import audit, corrections, ledger, master
from billing.db.pool import Pool, transaction
from billing.domain.corrections import CorrectionBody
from billing.domain.models import Employee, Fleet, Tariff
from tests.factories import Factory
from tests.line_item_factories import LineItemFactory, VehicleRow

Client = TestClient[Any, Any]
MARCH = date(2025, 3, 1)
KWH = ["10.5", "7.25", "12.333", "3.1", "20", "9.99", "15.5", "4.4444"]


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class Books:
    fleet: Fleet
    default: Tariff
    alice: Employee  # fleet default only
    bob: Employee  # fleet default only, with a monthly cap
    carol: Employee  # her own tariff in March
    carol_tariff: Tariff
    vehicles: dict[UUID, VehicleRow]
    manager: dict[str, str]


async def _priced_days(
    pool: Pool, items: LineItemFactory, vehicle: VehicleRow, first: date, kwh: Sequence[str]
) -> list[UUID]:
    ids = [
        (await items.charge_record(vehicle, first + timedelta(days=i), home_kwh=k)).id
        for i, k in enumerate(kwh)
    ]
    async with transaction(pool) as conn:
        priced = await ledger.reconcile_records(conn, ids)
        await audit.record_batches(conn, actor="test", batches=priced.events)
    return ids


async def _books(factory: Factory, pool: Pool) -> Books:
    fleet = await factory.fleet()
    default = await factory.tariff(fleet, "0.30", valid_from=date(2025, 1, 1))
    alice = await factory.employee(fleet)
    bob = await factory.employee(fleet, monthly_cap=Decimal("20"))
    carol = await factory.employee(fleet)
    carol_tariff = await factory.tariff(
        fleet, "0.40", employee=carol, valid_from=MARCH, valid_to=date(2025, 4, 1)
    )
    items = LineItemFactory(pool)
    vehicles = {e.id: await items.vehicle(e) for e in (alice, bob, carol)}
    for employee in (alice, bob, carol):
        await _priced_days(pool, items, vehicles[employee.id], date(2025, 2, 25), KWH)
    return Books(
        fleet=fleet,
        default=default,
        alice=alice,
        bob=bob,
        carol=carol,
        carol_tariff=carol_tariff,
        vehicles=vehicles,
        manager=factory.auth(await factory.key("manager", fleet)),
    )


async def _approve(pool: Pool, where: str, *args: Any) -> list[UUID]:
    rows = await pool.fetch(
        "UPDATE line_items SET status = 'approved', decided_by = 'api_key:fb_test', "
        f"decided_at = now(), version = version + 1 WHERE {where} RETURNING id",
        *args,
    )
    return [row["id"] for row in rows]


async def _lines(pool: Pool) -> dict[UUID, dict[str, Any]]:
    return {row["id"]: dict(row) for row in await pool.fetch("SELECT * FROM line_items")}


def _without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "id"} for item in items]


async def _post(client: Client, path: str, headers: dict[str, str], body: Any) -> Any:
    response = await client.post(path, headers=headers, json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_preview_is_what_applying_does_line_for_line(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    # Some of the days in the range are decided already; one of them rejected.
    approved = await _approve(
        pool,
        "employee_id = ANY($1) AND charge_date IN ('2025-03-01', '2025-03-02')",
        [books.alice.id, books.bob.id],
    )
    await pool.execute(
        "UPDATE line_items SET status = 'rejected', decided_by = 'api_key:fb_test', "
        "decided_at = now(), reason = 'no', version = version + 1 "
        "WHERE employee_id = $1 AND charge_date = '2025-02-27'",
        books.alice.id,
    )
    before = await _lines(pool)
    body = {"price_per_kwh": "0.35", "from": "2025-02-27", "to": "2025-03-03"}
    path = f"/v1/tariffs/{books.default.id}/corrections"

    preview = await _post(client, f"{path}/preview", books.manager, body)
    assert await _lines(pool) == before  # a preview writes nothing
    assert preview["id"] is None
    assert preview["applied"] is False
    assert {e["employee_id"] for e in preview["updated"] + preview["created"]} == {
        str(books.alice.id),
        str(books.bob.id),  # carol has her own tariff in March; her February days change
        str(books.carol.id),
    }

    applied = await _post(client, path, books.manager, body)
    after = await _lines(pool)

    # The same plan: every field but the stored ids.
    assert applied["id"] is not None
    assert applied["applied"] is True
    plan = {k: v for k, v in applied.items() if k not in ("id", "applied", "created")}
    assert plan == {k: v for k, v in preview.items() if k not in ("id", "applied", "created")}
    assert _without_ids(applied["created"]) == _without_ids(preview["created"])
    assert all(c["id"] is None for c in preview["created"])

    # The lines the database changed are exactly the preview's, with its figures.
    changed = {i for i in before if after[i] != before[i]}
    assert changed == {UUID(u["id"]) for u in preview["updated"]}
    for u in preview["updated"]:
        line = after[UUID(u["id"])]
        assert line["version"] == before[line["id"]]["version"] + 1 == u["version"]
        assert line["status"] == "pending"
        assert line["amount"] == Decimal(u["after"]["amount"])
        assert line["unit_price"] == Decimal(u["after"]["unit_price"]) == Decimal("0.35")
        assert before[line["id"]]["amount"] == Decimal(u["before"]["amount"])
        if line["employee_id"] != books.bob.id:  # the cap may hold back part of bob's days
            assert line["amount"] == _money(line["kwh"] * Decimal("0.35"))
    created = {i: after[i] for i in after.keys() - before.keys()}
    assert set(created) == {UUID(c["id"]) for c in applied["created"]}
    for c in applied["created"]:
        line = created[UUID(c["id"])]
        assert line["kind"] == c["kind"] == "adjustment"
        assert line["status"] == "pending"
        assert line["amount"] == Decimal(c["amount"])
        original = before[line["adjusts_id"]]
        assert str(original["id"]) == c["adjusts_id"]
        assert original["status"] in ("approved", "rejected")
    # Decided lines are never touched; each got its adjustment for the difference.
    for line_id in approved:
        assert after[line_id] == before[line_id]
    adjusted = {line["adjusts_id"] for line in created.values()}
    assert (
        set(approved) | {i for i, line in before.items() if line["status"] == "rejected"}
        >= adjusted
    )
    alice_approved = [i for i in approved if before[i]["employee_id"] == books.alice.id]
    for line_id in alice_approved:
        adjustment = next(x for x in created.values() if x["adjusts_id"] == line_id)
        kwh = before[line_id]["kwh"]
        assert adjustment["amount"] == _money(kwh * Decimal("0.35")) - _money(kwh * Decimal("0.30"))
        assert adjustment["kwh"] == 0

    # The totals are the difference of the sums, per currency.
    difference = sum((x["amount"] for x in after.values()), Decimal(0)) - sum(
        (x["amount"] for x in before.values()), Decimal(0)
    )
    assert preview["totals"] == [{"currency": "EUR", "difference": str(_money(difference))}]
    # Each of alice's corrected days adds up to the new figure (a rejected line counts: what
    # it refused is final, only the difference is put up for a new decision).
    sums = await pool.fetch(
        "SELECT r.home_kwh, sum(l.amount) AS amount FROM charge_records r "
        "JOIN line_items l ON l.charge_record_id = r.id WHERE r.employee_id = $1 "
        "AND r.charge_date BETWEEN '2025-02-27' AND '2025-03-02' GROUP BY r.id",
        books.alice.id,
    )
    assert len(sums) == 4
    assert all(row["amount"] == _money(row["home_kwh"] * Decimal("0.35")) for row in sums)

    # Applying the same correction again changes nothing.
    events = await pool.fetchval("SELECT count(*) FROM audit_events")
    again = await _post(client, path, books.manager, body)
    assert again["id"] is None
    assert again["updated"] == again["created"] == again["replaced_tariffs"] == []
    assert again["totals"] == []
    assert await _lines(pool) == after
    assert await pool.fetchval("SELECT count(*) FROM audit_events") == events
    assert await pool.fetchval("SELECT count(*) FROM tariff_corrections") == 1


async def test_correction_splits_the_tariff_and_is_audited(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    path = f"/v1/tariffs/{books.default.id}/corrections"
    body = {"price_per_kwh": "0.32", "from": "2025-03-01", "to": "2025-03-03"}
    applied = await _post(client, path, books.manager, body)

    assert [t["id"] for t in applied["replaced_tariffs"]] == [str(books.default.id)]
    pieces = [(t["valid_from"], t["valid_to"], t["price_per_kwh"]) for t in applied["new_tariffs"]]
    assert pieces == [
        ("2025-01-01", "2025-03-01", "0.300000"),
        ("2025-03-01", "2025-03-03", "0.320000"),
        ("2025-03-03", None, "0.300000"),
    ]
    response = await client.get(f"/v1/tariffs/{books.default.id}", headers=books.manager)
    replaced = await response.json()
    assert replaced["replaced_by"] == applied["id"]
    assert replaced["price_per_kwh"] == "0.300000"  # a tariff never changes its figures
    assert replaced["valid_to"] is None
    for day, price in (("2025-02-28", "0.300000"), ("2025-03-02", "0.320000")):
        response = await client.get(
            f"/v1/tariffs?fleet_id={books.fleet.id}&on={day}", headers=books.manager
        )
        in_force = [t for t in (await response.json())["items"] if t["employee_id"] is None]
        assert [t["price_per_kwh"] for t in in_force] == [price]
        assert in_force[0]["correction_id"] == applied["id"]

    events = await pool.fetch(
        "SELECT entity, entity_id, action, before, after FROM audit_events "
        "WHERE entity = 'tariff' ORDER BY id"
    )
    assert [(e["action"], str(e["entity_id"])) for e in events] == [
        ("correct", str(books.default.id)),
        *(("create", t["id"]) for t in applied["new_tariffs"]),
    ]
    assert events[0]["before"]["replaced_by"] is None
    assert events[0]["after"]["replaced_by"] == applied["id"]
    line_events = await pool.fetch(
        "SELECT action, count(*) AS n FROM audit_events WHERE entity = 'line_item' "
        "AND actor LIKE 'api_key:%' GROUP BY action"
    )
    assert {e["action"]: e["n"] for e in line_events} == {"restate": len(applied["updated"])}

    # The tariff's id still works: a second correction re-prices inside the pieces.
    again = {"price_per_kwh": "0.33", "from": "2025-03-02", "to": "2025-03-04"}
    second = await _post(client, path, books.manager, again)
    assert {t["valid_from"] for t in second["replaced_tariffs"]} == {"2025-03-01", "2025-03-03"}
    in_force = await pool.fetch(
        "SELECT valid_from, valid_to, price_per_kwh FROM tariffs "
        "WHERE fleet_id = $1 AND employee_id IS NULL AND replaced_by IS NULL ORDER BY valid_from",
        books.fleet.id,
    )
    assert [(r["valid_from"].isoformat(), str(r["price_per_kwh"])) for r in in_force] == [
        ("2025-01-01", "0.300000"),
        ("2025-03-01", "0.320000"),
        ("2025-03-02", "0.330000"),  # one part from each tariff it replaced
        ("2025-03-03", "0.330000"),
        ("2025-03-04", "0.300000"),
    ]
    # later reads price with the corrected tariffs: the lines follow them
    rows = await pool.fetch(
        "SELECT charge_date, unit_price FROM line_items WHERE employee_id = $1 "
        "AND charge_date BETWEEN '2025-03-01' AND '2025-03-04' ORDER BY charge_date",
        books.alice.id,
    )
    assert [str(r["unit_price"]) for r in rows] == ["0.320000", "0.330000", "0.330000", "0.300000"]


async def test_an_employee_tariff_correction_concerns_that_employee_only(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    before = await _lines(pool)
    path = f"/v1/tariffs/{books.carol_tariff.id}/corrections"
    # the whole of her tariff's range: it is replaced by one tariff at the new price
    applied = await _post(client, path, books.manager, {"price_per_kwh": "0.38"})
    assert (applied["valid_from"], applied["valid_to"]) == ("2025-03-01", "2025-04-01")
    assert [(t["valid_from"], t["valid_to"]) for t in applied["new_tariffs"]] == [
        ("2025-03-01", "2025-04-01")
    ]
    after = await _lines(pool)
    changed = {i for i in before if after[i] != before[i]}
    assert changed == {UUID(u["id"]) for u in applied["updated"]}
    assert {after[i]["employee_id"] for i in changed} == {books.carol.id}
    assert {after[i]["charge_date"] for i in changed} == {
        MARCH + timedelta(days=d) for d in range(4)
    }
    difference = sum(
        (
            Decimal(u["after"]["amount"]) - Decimal(u["before"]["amount"])
            for u in applied["updated"]
        ),
        Decimal(0),
    )
    assert applied["totals"] == [{"currency": "EUR", "difference": str(difference)}]
    assert Decimal(applied["totals"][0]["difference"]) < 0


async def test_a_fleet_correction_skips_days_an_employee_tariff_prices(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    path = f"/v1/tariffs/{books.default.id}/corrections/preview"
    preview = await _post(
        client, path, books.manager, {"price_per_kwh": "0.5", "from": "2025-03-01"}
    )
    touched = {e["employee_id"] for e in preview["updated"] + preview["created"]}
    assert str(books.carol.id) not in touched
    assert touched == {str(books.alice.id), str(books.bob.id)}


async def test_the_cap_holds_under_a_correction(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    march = "SELECT sum(amount) FROM line_items WHERE employee_id = $1 AND period = '2025-03'"
    assert await pool.fetchval(march, books.bob.id) <= 20
    path = f"/v1/tariffs/{books.default.id}/corrections"
    body = {"price_per_kwh": "0.90", "from": "2025-02-01", "to": "2025-04-01"}
    preview = await _post(client, f"{path}/preview", books.manager, body)
    applied = await _post(client, path, books.manager, body)
    assert applied["updated"] == preview["updated"]
    assert await pool.fetchval(march, books.bob.id) == Decimal(20)
    capped = await pool.fetch(
        "SELECT evidence FROM line_items WHERE employee_id = $1 AND evidence ? 'cap'",
        books.bob.id,
    )
    assert capped
    assert all(row["evidence"]["cap"]["monthly_cap"] == "20.0000" for row in capped)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"price_per_kwh": "-0.1"}, 422, "body.price_per_kwh"),
        ({"price_per_kwh": "0.3", "colour": "blue"}, 422, "body.colour"),
        ({"price_per_kwh": "0.3", "from": 0}, 422, "body.from"),
        ({"price_per_kwh": "0.3", "from": "2025-03-05", "to": "2025-03-05"}, 422, "body"),
        ({"price_per_kwh": "0.3", "from": "2024-12-31"}, 422, None),
        ({"price_per_kwh": "0.3", "to": "2025-04-02"}, 422, None),
        ({"price_per_kwh": "0.3", "from": "2025-04-01"}, 422, None),
        ({}, 422, "body.price_per_kwh"),
    ],
)
async def test_bad_corrections_are_refused_and_change_nothing(
    client: Client,
    factory: Factory,
    pool: Pool,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    fleet = await factory.fleet()
    tariff = await factory.tariff(fleet, valid_from=date(2025, 1, 1), valid_to=date(2025, 4, 1))
    manager = factory.auth(await factory.key("manager", fleet))
    for suffix in ("/preview", ""):
        response = await client.post(
            f"/v1/tariffs/{tariff.id}/corrections{suffix}", headers=manager, json=body
        )
        assert response.status == status, await response.text()
        problem = await response.json()
        if field is not None:
            assert any(e["field"] == field for e in problem["errors"]), problem
        else:
            assert "valid_" in problem["detail"]
    assert await pool.fetchval("SELECT count(*) FROM tariffs") == 1
    assert await pool.fetchval("SELECT count(*) FROM tariff_corrections") == 0


async def test_only_managers_of_the_fleet_and_admins_correct(
    client: Client, factory: Factory, pool: Pool
) -> None:
    fleet = await factory.fleet()
    other = await factory.fleet()
    me = await factory.employee(fleet)
    tariff = await factory.tariff(fleet)
    own = await factory.tariff(fleet, employee=me)
    body = {"price_per_kwh": "0.31"}
    cases = [
        (await factory.key("hr", fleet), tariff, 403),
        (await factory.key("employee", fleet, me), tariff, 403),
        (await factory.key("employee", fleet, me), own, 403),
        (await factory.key("manager", other), tariff, 404),
        (await factory.key("manager", fleet), tariff, 200),
        (await factory.key("admin"), own, 200),
    ]
    for key, target, status in cases:
        for suffix in ("/preview", ""):
            response = await client.post(
                f"/v1/tariffs/{target.id}/corrections{suffix}", headers=factory.auth(key), json=body
            )
            assert response.status == status, (key, suffix, await response.text())
    missing = "/v1/tariffs/00000000-0000-0000-0000-000000000000/corrections"
    response = await client.post(missing, headers=factory.auth(cases[-1][0]), json=body)
    assert response.status == 404
    assert await pool.fetchval("SELECT count(*) FROM tariff_corrections") == 2


async def test_a_concurrent_approval_waits_and_then_sees_a_stale_version(
    client: Client, factory: Factory, pool: Pool
) -> None:
    books = await _books(factory, pool)
    line = await pool.fetchrow(
        "SELECT * FROM line_items WHERE employee_id = $1 AND charge_date = $2",
        books.alice.id,
        MARCH,
    )
    assert line is not None
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            async with transaction(pool) as read:
                tariff = await master.get_tariff(read, books.default.id)
            await corrections.apply(
                conn, tariff, CorrectionBody.model_validate({"price_per_kwh": "0.5"}), actor="t"
            )
            approve = asyncio.create_task(
                client.post(
                    f"/v1/line-items/{line['id']}/approve",
                    headers=books.manager,
                    json={"version": line["version"]},
                )
            )
            await asyncio.sleep(0.5)
            assert not approve.done()  # waiting on the correction's lock
        finally:
            await tx.commit()
    response = await approve
    assert response.status == 409, await response.text()
    now = await pool.fetchrow("SELECT * FROM line_items WHERE id = $1", line["id"])
    assert now is not None
    assert now["status"] == "pending"
    assert now["version"] == line["version"] + 1
    assert now["unit_price"] == Decimal("0.5")
