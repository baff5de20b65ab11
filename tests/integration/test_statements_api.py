"""Statements over HTTP: each endpoint per role, problem+json errors, Idempotency-Key."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from tests.close_scene import MARCH, approved_days
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]
YEAR = datetime.now(ZoneInfo("Europe/Berlin")).year  # numbers follow the year of finalization


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    scene = await build_scene(factory)
    await approved_days(scene, scene.me.id, [1, 2])
    await approved_days(scene, scene.colleague.id, [3])
    return scene


def auth(scene: Scene, role: str = "manager") -> dict[str, str]:
    key = scene.other_manager if role == "other_manager" else scene.keys[role]
    return {"Authorization": f"Bearer {key}"}


async def drafts(client: Client, scene: Scene, role: str = "manager") -> Any:
    body = {"fleet_id": str(scene.fleet.id), "period": MARCH}
    return await client.post("/v1/statements/drafts", json=body, headers=auth(scene, role))


async def listed(client: Client, scene: Scene, role: str = "manager", **params: str) -> Any:
    resp = await client.get("/v1/statements", params=params, headers=auth(scene, role))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]


async def feed_actions(client: Client, scene: Scene, entity: str, count: int) -> list[str]:
    """The feed's actions on `entity`, once `count` arrived (open transactions anywhere on the
    server hold the feed back until they end)."""
    seen: list[str] = []
    after: str | None = None
    async with asyncio.timeout(30):
        while len(seen) < count:
            params = {"entity": entity, **({"after": after} if after else {})}
            resp = await client.get("/v1/changes", params=params, headers=auth(scene, "hr"))
            body = await resp.json()
            seen += [change["action"] for change in body["changes"]]
            after = body["next_cursor"]
            if not body["changes"]:
                await asyncio.sleep(0.05)
    return seen


async def test_drafts_by_role(client: Client, scene: Scene) -> None:
    for role, status in (("hr", 403), ("employee", 403), ("other_manager", 404)):
        resp = await drafts(client, scene, role)
        assert resp.status == status, role
        assert resp.content_type == "application/problem+json"
    resp = await drafts(client, scene)
    assert resp.status == 200
    assert await resp.json() == {"created": 2, "refreshed": 0, "unchanged": 0}
    bad = await client.post(
        "/v1/statements/drafts",
        json={"fleet_id": str(scene.fleet.id), "period": "2025-13", "extra": 1},
        headers=auth(scene),
    )
    assert bad.status == 422
    fields = {e["field"] for e in (await bad.json())["errors"]}
    assert fields == {"body.period", "body.extra"}


async def test_read_finalize_void_by_role(client: Client, scene: Scene) -> None:
    await drafts(client, scene)
    items = await listed(client, scene)
    assert {i["status"] for i in items} == {"draft"}
    mine = next(i for i in items if i["employee_id"] == str(scene.me.id))
    assert mine["available_actions"] == ["pdf", "refresh", "finalize"]
    assert await listed(client, scene, "employee") == []  # drafts are not the employee's yet
    assert (
        await client.get(f"/v1/statements/{mine['id']}", headers=auth(scene, "employee"))
    ).status == 404
    assert (
        await client.get(f"/v1/statements/{mine['id']}", headers=auth(scene, "other_manager"))
    ).status == 404
    detail = await client.get(f"/v1/statements/{mine['id']}", headers=auth(scene, "hr"))
    body = await detail.json()
    assert body["total"] == "6.30"
    assert [line["prior_period"] for line in body["lines"]] == [False, False]
    assert body["pending_not_included"] == []
    assert body["available_actions"] == ["pdf"]

    url = f"/v1/statements/{mine['id']}/finalize"
    assert (await client.post(url, json={}, headers=auth(scene, "hr"))).status == 403
    assert (await client.post(url, json={}, headers=auth(scene, "bound_manager"))).status == 403
    headers = {**auth(scene), "Idempotency-Key": "finalize-1"}
    first = await client.post(url, json={}, headers=headers)
    assert first.status == 200, await first.text()
    finalized = await first.json()
    assert finalized["number"] == f"S-{YEAR}-00001"
    assert finalized["status"] == "finalized"
    assert finalized["available_actions"] == ["pdf", "void"]
    replay = await client.post(url, json={}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert await replay.json() == finalized
    again = await client.post(url, json={}, headers=auth(scene))
    assert again.status == 409

    own = await listed(client, scene, "employee")
    assert [i["number"] for i in own] == [f"S-{YEAR}-00001"]

    void = f"/v1/statements/{mine['id']}/void"
    assert (await client.post(void, json={}, headers=auth(scene))).status == 422
    assert (await client.post(void, json={"reason": "x"}, headers=auth(scene, "hr"))).status == 403
    voided = await client.post(void, json={"reason": "wrong tariff"}, headers=auth(scene))
    assert voided.status == 200
    assert (await voided.json())["void_reason"] == "wrong tariff"
    assert (await client.post(void, json={"reason": "again"}, headers=auth(scene))).status == 409


async def test_finalize_period_all_or_nothing(client: Client, scene: Scene) -> None:
    await drafts(client, scene)
    body = {"fleet_id": str(scene.fleet.id), "period": MARCH}
    assert (
        await client.post("/v1/statements/finalize", json=body, headers=auth(scene, "hr"))
    ).status == 403
    resp = await client.post("/v1/statements/finalize", json=body, headers=auth(scene))
    assert resp.status == 200, await resp.text()
    numbers = sorted(i["number"] for i in (await resp.json())["items"])
    assert numbers == [f"S-{YEAR}-00001", f"S-{YEAR}-00002"]
    resp = await client.post("/v1/statements/finalize", json=body, headers=auth(scene))
    assert (await resp.json())["items"] == []
    actions = await feed_actions(client, scene, "statement", 4)
    assert sorted(actions) == ["created", "created", "finalized", "finalized"]


async def test_fleet_settings(client: Client, scene: Scene) -> None:
    url = f"/v1/fleets/{scene.fleet.id}"
    body = {"locale": "de-DE", "datev": {"consultant_number": "1234567", "wage_type": "4711"}}
    assert (await client.patch(url, json=body, headers=auth(scene, "hr"))).status == 403
    assert (await client.patch(url, json=body, headers=auth(scene, "other_manager"))).status == 404
    resp = await client.patch(url, json=body, headers=auth(scene))
    assert resp.status == 200, await resp.text()
    fleet = await resp.json()
    assert fleet["locale"] == "de-DE"
    assert fleet["statement_auto_finalize"] is False
    assert fleet["datev"] == {
        "consultant_number": "1234567",
        "client_number": None,
        "wage_type": "4711",
    }
    bad = await client.patch(url, json={"locale": "xx_YY"}, headers=auth(scene))
    assert bad.status == 422
    resp = await client.patch(url, json={"statement_auto_finalize": True}, headers=auth(scene))
    assert (await resp.json())["locale"] == "de-DE"
