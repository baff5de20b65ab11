"""Line items over HTTP: listing, evidence, and decisions with versions."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db import apikeys, line_items
from billing.db.pool import Pool
from billing.domain.decisions import DecisionConflict, Requested
from billing.services import money, statements
from tests.close_scene import ADMIN, NOW
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]
DAY = date(2025, 3, 10)


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


def auth(scene: Scene, role: str = "manager") -> dict[str, str]:
    return {"Authorization": f"Bearer {scene.keys[role]}"}


async def audit_count(pool: Pool, entity_id: object) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'line_item' AND entity_id = $1",
        entity_id,
    )
    return count


async def test_list_pages_through_every_item_once_while_rows_are_inserted(
    client: Client, scene: Scene
) -> None:
    for offset in range(7):
        await scene.pending(scene.me, date(2025, 3, 1 + offset))
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        resp = await client.get("/v1/line-items", params=params, headers=auth(scene))
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        seen += [item["id"] for item in page["items"]]
        if inserted < 2:  # rows arriving mid-listing land after the cursor, not in the past
            await scene.pending(scene.colleague, date(2025, 3, 20 + inserted))
            inserted += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9


async def test_list_filters(client: Client, scene: Scene) -> None:
    march = await scene.pending(scene.me, date(2025, 3, 31))
    april = await scene.pending(scene.me, date(2025, 4, 1))
    theirs = await scene.pending(scene.colleague, date(2025, 4, 2))
    await scene.pending(scene.stranger, date(2025, 4, 2))

    async def ids(role: str = "manager", **params: str) -> set[str]:
        resp = await client.get("/v1/line-items", params=params, headers=auth(scene, role))
        assert resp.status == 200, await resp.text()
        return {item["id"] for item in (await resp.json())["items"]}

    assert await ids() == {str(march.id), str(april.id), str(theirs.id)}
    assert await ids(period="2025-04") == {str(april.id), str(theirs.id)}
    assert await ids(employee_id=str(scene.me.id)) == {str(march.id), str(april.id)}
    assert await ids(vehicle_id=str(scene.vehicle_of(scene.colleague).id)) == {str(theirs.id)}
    assert await ids(status="approved") == set()
    assert await ids(kind="adjustment") == set()
    assert await ids("employee") == {str(march.id), str(april.id)}
    assert await ids("admin", fleet_id=str(scene.other_fleet.id)) != set()

    bad = await client.get("/v1/line-items?period=2025-13", headers=auth(scene))
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["field"] == "query.period"
    big = await client.get("/v1/line-items?limit=501", headers=auth(scene))
    assert big.status == 422
    junk = await client.get("/v1/line-items?cursor=nonsense", headers=auth(scene))
    assert junk.status == 422


async def test_item_money_is_decimal_strings_in_minor_units(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.me, DAY, home_kwh="12.3456")
    resp = await client.get(f"/v1/line-items/{item.id}", headers=auth(scene))
    body = await resp.json()
    assert body["amount"] == "3.70"  # 12.3456 * 0.30 = 3.70368, half-up to cents
    assert body["kwh"] == "12.3456"
    assert isinstance(body["unit_price"], str)


async def test_evidence_shows_record_tariff_arithmetic_and_chain(
    client: Client, scene: Scene
) -> None:
    record = await scene.items.charge_record(
        scene.vehicle_of(scene.me), DAY, home_kwh="20.0005", flags=["sum_mismatch"]
    )
    original = await scene.items.line_item(record, scene.tariff, status="approved")
    adjustment = await scene.items.line_item(
        record, scene.tariff, kwh="1.5", adjusts=original, evidence={"why": "restated"}
    )
    resp = await client.get(f"/v1/line-items/{adjustment.id}", headers=auth(scene, "employee"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    evidence = body["evidence"]
    assert evidence["stored"] == {"why": "restated"}
    received = evidence["charge_record"]
    assert received["raw"]["home"] == "20.0005"
    assert received["request_id"].startswith("req-")
    assert received["source"] == "smartcar"
    assert received["flags"] == ["sum_mismatch"]
    assert received["fetched_at"].startswith("2025-03-01T08:00:00")
    assert evidence["tariff"]["id"] == str(scene.tariff.id)
    arithmetic = evidence["arithmetic"]
    assert Decimal(arithmetic["unrounded"]) == Decimal("1.5") * Decimal("0.30")
    assert arithmetic["amount"] == "0.45"
    assert arithmetic["formula"] == "1.5 kWh × 0.3 EUR/kWh = 0.45 → 0.45 EUR"
    assert [line["id"] for line in evidence["chain"]] == [str(original.id), str(adjustment.id)]

    first = await client.get(f"/v1/line-items/{original.id}", headers=auth(scene))
    chain = (await first.json())["evidence"]["chain"]
    assert [line["id"] for line in chain] == [str(original.id), str(adjustment.id)]


async def test_approve_bumps_version_records_decider_and_audits(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    resp = await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": 1}, headers=auth(scene)
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "approved"
    assert body["version"] == 2
    assert body["decided_by"].startswith("api_key:fb_manager_")
    assert body["decided_at"] is not None
    event = await pool.fetchrow(
        "SELECT * FROM audit_events WHERE entity = 'line_item' AND entity_id = $1", item.id
    )
    assert event is not None
    assert event["action"] == "approve"
    assert event["before"]["status"] == "pending"
    assert event["after"]["status"] == "approved"
    assert event["actor"] == body["decided_by"]

    again = await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": 2}, headers=auth(scene)
    )
    assert again.status == 409
    assert "already approved" in (await again.json())["errors"][0]["message"]


async def test_stale_version_is_409_and_changes_nothing(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    resp = await client.post(
        f"/v1/line-items/{item.id}/reject",
        json={"version": 7, "reason": "too much"},
        headers=auth(scene),
    )
    assert resp.status == 409
    problem = await resp.json()
    assert resp.content_type == "application/problem+json"
    assert str(item.id) in problem["detail"]
    assert "stale version 7" in problem["errors"][0]["message"]
    assert await audit_count(pool, item.id) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"version": 1},
        {"version": 1, "reason": ""},
        {"version": 1, "reason": "   "},
        {"version": 1, "reason": "x" * 2001},
        {"version": 0, "reason": "ok"},
        {"version": "1", "reason": "ok", "status": "rejected"},
    ],
)
async def test_reject_needs_a_reason_and_nothing_else(
    client: Client, scene: Scene, body: dict[str, Any]
) -> None:
    item = await scene.pending(scene.me, DAY)
    resp = await client.post(f"/v1/line-items/{item.id}/reject", json=body, headers=auth(scene))
    assert resp.status == 422, await resp.text()


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "approved"},
        {"amount": "0.01"},
        {"decided_by": "me"},
        {"fleet_id": "00000000-0000-0000-0000-000000000000"},
        {"version": 1, "id": "x"},
    ],
)
async def test_protected_fields_are_not_settable(
    client: Client, scene: Scene, extra: dict[str, Any]
) -> None:
    item = await scene.pending(scene.me, DAY)
    resp = await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": 1, **extra}, headers=auth(scene)
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == "unknown field"


async def test_reject_then_reopen_then_approve(client: Client, scene: Scene, pool: Pool) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}"
    rejected = await client.post(
        f"{url}/reject", json={"version": 1, "reason": " no receipt "}, headers=auth(scene)
    )
    assert (await rejected.json())["reason"] == "no receipt"
    hr = await client.post(
        f"{url}/reopen", json={"version": 2, "reason": "found it"}, headers=auth(scene, "hr")
    )
    assert hr.status == 403
    reopened = await client.post(
        f"{url}/reopen", json={"version": 2, "reason": "found it"}, headers=auth(scene)
    )
    assert reopened.status == 200, await reopened.text()
    body = await reopened.json()
    assert (body["status"], body["version"], body["decided_by"], body["decided_at"]) == (
        "pending",
        3,
        None,
        None,
    )
    twice = await client.post(
        f"{url}/reopen", json={"version": 3, "reason": "again"}, headers=auth(scene)
    )
    assert twice.status == 409
    approved = await client.post(f"{url}/approve", json={"version": 3}, headers=auth(scene))
    assert (await approved.json())["status"] == "approved"
    actions = await pool.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY id", item.id
    )
    assert [r["action"] for r in actions] == ["reject", "reopen", "approve"]


async def test_reopen_refused_once_on_a_statement(client: Client, scene: Scene) -> None:
    record = await scene.items.charge_record(scene.vehicle_of(scene.me), DAY)
    item = await scene.items.line_item(record, scene.tariff, status="approved")
    period = DAY.strftime("%Y-%m")
    pool = scene.items.pool
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=period)
    await statements.finalize_period(pool, ADMIN, fleet_id=scene.fleet.id, period=period, now=NOW)
    async with pool.acquire() as conn:
        linked = await line_items.get_line_item(conn, item.id)
    assert linked.statement_id is not None
    resp = await client.post(
        f"/v1/line-items/{item.id}/reopen",
        json={"version": linked.version, "reason": "oops"},
        headers=auth(scene),
    )
    assert resp.status == 409
    assert "statement" in (await resp.json())["errors"][0]["message"]


async def test_reopen_refused_for_a_charge_line_with_adjustments(
    client: Client, scene: Scene
) -> None:
    record = await scene.items.charge_record(scene.vehicle_of(scene.me), DAY)
    item = await scene.items.line_item(record, scene.tariff, status="approved")
    await scene.items.line_item(record, scene.tariff, adjusts=item)
    resp = await client.post(
        f"/v1/line-items/{item.id}/reopen",
        json={"version": 1, "reason": "oops"},
        headers=auth(scene),
    )
    assert resp.status == 409
    assert "adjustment" in (await resp.json())["errors"][0]["message"]


async def test_bulk_decisions_apply_all(client: Client, scene: Scene, pool: Pool) -> None:
    a = await scene.pending(scene.me, date(2025, 3, 1))
    b = await scene.pending(scene.colleague, date(2025, 3, 1))
    resp = await client.post(
        "/v1/line-items/decisions",
        json={
            "decisions": [
                {"id": str(b.id), "decision": "reject", "reason": "duplicate", "version": 1},
                {"id": str(a.id), "decision": "approve", "version": 1},
            ]
        },
        headers=auth(scene),
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [(i["id"], i["status"]) for i in items] == [
        (str(b.id), "rejected"),
        (str(a.id), "approved"),
    ]
    assert await audit_count(pool, a.id) == await audit_count(pool, b.id) == 1


async def test_bulk_decisions_are_all_or_nothing(client: Client, scene: Scene, pool: Pool) -> None:
    fresh = await scene.pending(scene.me, date(2025, 3, 1))
    stale = await scene.pending(scene.me, date(2025, 3, 2))
    done = await scene.pending(scene.me, date(2025, 3, 3))
    await client.post(f"/v1/line-items/{done.id}/approve", json={"version": 1}, headers=auth(scene))
    resp = await client.post(
        "/v1/line-items/decisions",
        json={
            "decisions": [
                {"id": str(fresh.id), "decision": "approve", "version": 1},
                {"id": str(stale.id), "decision": "approve", "version": 5},
                {"id": str(done.id), "decision": "reject", "reason": "no", "version": 2},
            ]
        },
        headers=auth(scene),
    )
    assert resp.status == 409
    problem = await resp.json()
    assert str(stale.id) in problem["detail"]
    assert str(done.id) in problem["detail"]
    assert str(fresh.id) not in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [
        "body.decisions.1.version",
        "body.decisions.2.version",
    ]
    row = await pool.fetchrow("SELECT status, version FROM line_items WHERE id = $1", fresh.id)
    assert row is not None
    assert (row["status"], row["version"]) == ("pending", 1)
    assert await audit_count(pool, fresh.id) == 0


@pytest.mark.parametrize(
    ("decisions", "field"),
    [
        ([], "body.decisions"),
        ([{"id": "x", "decision": "approve", "version": 1}], "body.decisions.0.id"),
        ([{"id": None, "decision": "maybe", "version": 1}], "body.decisions.0.id"),
    ],
)
async def test_bulk_decisions_validate(
    client: Client, scene: Scene, decisions: list[Any], field: str
) -> None:
    resp = await client.post(
        "/v1/line-items/decisions", json={"decisions": decisions}, headers=auth(scene)
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == field


async def test_bulk_decisions_refuse_duplicates_and_missing_reasons(
    client: Client, scene: Scene
) -> None:
    item = await scene.pending(scene.me, DAY)
    twice = {"id": str(item.id), "decision": "approve", "version": 1}
    resp = await client.post(
        "/v1/line-items/decisions", json={"decisions": [twice, twice]}, headers=auth(scene)
    )
    assert resp.status == 422
    reasonless = {"id": str(item.id), "decision": "reject", "version": 1}
    resp = await client.post(
        "/v1/line-items/decisions", json={"decisions": [reasonless]}, headers=auth(scene)
    )
    assert resp.status == 422


async def test_bulk_decision_on_an_invisible_item_is_404(client: Client, scene: Scene) -> None:
    mine = await scene.pending(scene.me, DAY)
    abroad = await scene.pending(scene.stranger, DAY)
    resp = await client.post(
        "/v1/line-items/decisions",
        json={
            "decisions": [
                {"id": str(mine.id), "decision": "approve", "version": 1},
                {"id": str(abroad.id), "decision": "approve", "version": 1},
            ]
        },
        headers=auth(scene),
    )
    assert resp.status == 404


async def test_bound_manager_cannot_decide_own_items(client: Client, scene: Scene) -> None:
    own = await scene.pending(scene.me, DAY)
    theirs = await scene.pending(scene.colleague, DAY)
    key = auth(scene, "bound_manager")
    denied = await client.post(f"/v1/line-items/{own.id}/approve", json={"version": 1}, headers=key)
    assert denied.status == 403
    allowed = await client.post(
        f"/v1/line-items/{theirs.id}/approve", json={"version": 1}, headers=key
    )
    assert allowed.status == 200
    bulk = await client.post(
        "/v1/line-items/decisions",
        json={"decisions": [{"id": str(own.id), "decision": "approve", "version": 1}]},
        headers=key,
    )
    assert bulk.status == 403


async def test_two_managers_racing_on_one_version_one_wins(
    client: Client, scene: Scene, factory: Factory, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    second = {"Authorization": f"Bearer {await factory.key('manager', scene.fleet)}"}
    url = f"/v1/line-items/{item.id}"
    results = await asyncio.gather(
        client.post(f"{url}/approve", json={"version": 1}, headers=auth(scene)),
        client.post(f"{url}/reject", json={"version": 1, "reason": "no"}, headers=second),
    )
    assert sorted(r.status for r in results) == [200, 409]
    assert await audit_count(pool, item.id) == 1


async def test_a_decider_waiting_on_the_row_lock_sees_the_new_version(
    scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    async with pool.acquire() as first, pool.acquire() as second:
        who = await apikeys.authenticate(first, scene.keys["manager"])
        holding = first.transaction()
        await holding.start()
        await money.decide(first, who, [Requested(item.id, "approve", 1)])

        async def race() -> None:
            async with second.transaction():
                await money.decide(second, who, [Requested(item.id, "reject", 1, "no")])

        waiting = asyncio.create_task(race())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # blocked on the row lock, not deciding on a stale read
        await holding.commit()
        with pytest.raises(DecisionConflict) as caught:
            await waiting
    assert "stale version 1" in caught.value.conflicts[0].problem


async def test_overlapping_bulk_decisions_in_opposite_orders_do_not_deadlock(
    client: Client, scene: Scene, factory: Factory
) -> None:
    second = {"Authorization": f"Bearer {await factory.key('manager', scene.fleet)}"}
    for round_ in range(5):
        a = await scene.pending(scene.me, date(2025, 5, 1 + round_))
        b = await scene.pending(scene.colleague, date(2025, 5, 1 + round_))
        forward = [{"id": str(i.id), "decision": "approve", "version": 1} for i in (a, b)]
        backward = [
            {"id": str(i.id), "decision": "reject", "reason": "dup", "version": 1} for i in (b, a)
        ]
        results = await asyncio.gather(
            client.post(
                "/v1/line-items/decisions", json={"decisions": forward}, headers=auth(scene)
            ),
            client.post("/v1/line-items/decisions", json={"decisions": backward}, headers=second),
        )
        assert sorted(r.status for r in results) == [200, 409]
