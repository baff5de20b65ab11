"""The feed's data read from the snapshot's JSON text: the same public representation as
decoding the snapshot and projecting it, for real snapshots and for odd ones."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db.pool import Pool
from billing.domain.changes import Change, ChangePage, public_data, public_data_json
from billing.services import statements
from tests.close_scene import ADMIN, NOW
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]

LINE = {
    "id": "00000000-0000-4000-8000-000000000001",
    "fleet_id": "00000000-0000-4000-8000-000000000002",
    "employee_id": "00000000-0000-4000-8000-000000000003",
    "vehicle_id": "00000000-0000-4000-8000-000000000004",
    "charge_record_id": "00000000-0000-4000-8000-000000000005",
    "charge_date": "2025-03-01",
    "period": "2025-03",
    "kind": "charge",
    "adjusts_id": None,
    "kwh": "12.3400",
    "unit_price": "0.320000",
    "currency": "EUR",
    "amount": "3.9500",
    "tariff_id": "00000000-0000-4000-8000-000000000006",
    "status": "pending",
    "decided_by": None,
    "decided_at": None,
    "reason": None,
    "version": 1,
    "statement_id": None,
    "created_at": "2025-03-01T08:00:00.120000Z",
    "updated_at": "2025-03-01T08:00:00+00:00",
    "evidence": {"record": {"raw": "x" * 40}},
}


@pytest.mark.parametrize(
    ("entity", "data"),
    [
        ("line_item", LINE),
        ("line_item", {**LINE, "currency": "JPY", "amount": "120.0000", "kwh": "0.0000000"}),
        ("line_item", {**LINE, "currency": "KWD", "amount": "-1.2340", "kind": "adjustment"}),
        ("line_item", {**LINE, "currency": "XXX"}),  # not a currency: shown as recorded
        ("line_item", {**LINE, "amount": "lots"}),  # not a number: the partial way
        ("line_item", {**LINE, "status": "unheard-of"}),
        ("line_item", {**LINE, "kwh": 1.5, "version": "2"}),  # numbers and strings swapped
        ("line_item", {"amount": "120.0000", "currency": "JPY", "evidence": {}}),
        ("line_item", {"statement_id": LINE["id"], "version": 3}),  # a link
        ("line_item", {}),
        ("line_item", None),
        ("charge_record", {"id": "r", "home_kwh": "1.0000", "raw": {"upstream": 1}}),
        ("vehicle", {"smartcar_vehicle_id": "v", "connection_id": "c", "employee_id": "e"}),
        ("statement", {"number": 7, "total": "12.50", "nested": {"a": [1, 2.5, None]}}),
        ("statement", None),
    ],
)
def test_reading_the_text_gives_the_decoded_projection(
    entity: str, data: dict[str, Any] | None
) -> None:
    text = None if data is None else json.dumps(data)
    got = public_data_json(entity, text)
    expected = public_data(entity, None if text is None else json.loads(text))
    assert json.dumps(got) == json.dumps(expected)  # the same keys in the same order


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def test_the_feed_shows_what_decoding_each_snapshot_showed(
    client: Client, scene: Scene, pool: Pool
) -> None:
    admin = {"Authorization": f"Bearer {scene.keys['admin']}"}
    manager = {"Authorization": f"Bearer {scene.keys['manager']}"}
    made = await client.post(
        "/v1/employees",
        json={"fleet_id": str(scene.fleet.id), "external_ref": "HR-x", "name": 'Zoë "Q"'},
        headers=admin,
    )
    assert made.status == 201, await made.text()
    tariff = await client.post(
        "/v1/tariffs",
        json={
            "fleet_id": str(scene.fleet.id),
            "employee_id": str(scene.colleague.id),
            "price_per_kwh": "0.123456",
            "currency": "EUR",
            "valid_from": "2030-01-01",
        },
        headers=admin,
    )
    assert tariff.status == 201, await tariff.text()
    items = [await scene.pending(scene.me, date(2025, 3, d), home_kwh="7.125") for d in (1, 2, 3)]
    for item, (verb, extra) in zip(
        items,
        [("approve", {}), ("reject", {"reason": "a \\ reason\n"}), ("approve", {})],
        strict=True,
    ):
        resp = await client.post(
            f"/v1/line-items/{item.id}/{verb}", json={"version": 1, **extra}, headers=manager
        )
        assert resp.status == 200, await resp.text()
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period="2025-03")
    await statements.finalize_period(
        pool, ADMIN, fleet_id=scene.fleet.id, period="2025-03", now=NOW
    )

    # any open transaction on the server, in any database, holds the feed back until it ends
    async with asyncio.timeout(30):
        while True:
            resp = await client.get("/v1/changes", params={"limit": "1000"}, headers=admin)
            assert resp.status == 200, await resp.text()
            body = await resp.read()
            shown = json.loads(body)["changes"]
            if {"employee", "tariff", "line_item", "statement"} <= {c["entity"] for c in shown}:
                break
            await asyncio.sleep(0.05)
    rows = await pool.fetch(
        "SELECT id, at, entity, entity_id, action, actor, fleet_id, coalesce(after, before) AS data"
        " FROM audit_events WHERE id = ANY($1::bigint[]) ORDER BY xid, id",
        [json.loads(base64.urlsafe_b64decode(c["cursor"] + "=="))[1] for c in shown],
    )
    expected = ChangePage(
        changes=[
            Change(
                cursor=change["cursor"],
                at=row["at"],
                entity=row["entity"],
                id=row["entity_id"],
                action=row["action"],
                actor=row["actor"],
                fleet_id=row["fleet_id"],
                data=public_data(row["entity"], row["data"]),
            )
            for change, row in zip(shown, rows, strict=True)
        ],
        next_cursor=json.loads(body)["next_cursor"],
    )
    assert body == expected.model_dump_json().encode()
