"""The change feed: commit order, exactly once under out-of-order commits, scoping."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db import apikeys, audit, changes
from billing.db.pool import Pool
from billing.domain.changes import Position, next_position
from billing.domain.decisions import Requested
from billing.domain.line_items import LineItem
from billing.services import money
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


def auth(scene: Scene, role: str = "hr") -> dict[str, str]:
    return {"Authorization": f"Bearer {scene.keys[role]}"}


async def page(
    client: Client, scene: Scene, after: str | None = None, role: str = "hr", **params: str
) -> dict[str, Any]:
    query = {**params, **({"after": after} if after else {})}
    resp = await client.get("/v1/changes", params=query, headers=auth(scene, role))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def drain(
    client: Client, scene: Scene, after: str | None, **params: str
) -> tuple[list[Any], str]:
    seen: list[Any] = []
    while True:
        body = await page(client, scene, after, **params)
        seen += body["changes"]
        after = body["next_cursor"]
        if not body["changes"]:
            assert after is not None
            return seen, after


async def collect(
    client: Client,
    scene: Scene,
    after: str | None,
    count: int,
    role: str = "hr",
    **params: str,
) -> tuple[list[Any], str]:
    """Follow the feed until `count` changes arrived (any open transaction on the server,
    in any database, holds the feed back until it ends)."""
    seen: list[Any] = []
    async with asyncio.timeout(20):
        while len(seen) < count:
            body = await page(client, scene, after, role, **params)
            seen += body["changes"]
            after = body["next_cursor"]
            if not body["changes"]:
                await asyncio.sleep(0.02)
    assert after is not None
    return seen, after


async def approve(client: Client, scene: Scene, item: LineItem) -> None:
    resp = await client.post(
        f"/v1/line-items/{item.id}/approve",
        json={"version": item.version},
        headers=auth(scene, "manager"),
    )
    assert resp.status == 200


async def test_feed_lists_changes_in_order_with_a_cursor_even_when_empty(
    client: Client, scene: Scene
) -> None:
    first, cursor = await drain(client, scene, None)
    assert first == []  # the scene wrote no audit events
    items = [await scene.pending(scene.me, date(2025, 3, d)) for d in (1, 2, 3)]
    for item in items:
        await approve(client, scene, item)
    head, _ = await collect(client, scene, cursor, 3)
    assert [c["id"] for c in head] == [str(i.id) for i in items]
    body = await page(client, scene, cursor, limit="2")
    assert [c["id"] for c in body["changes"]] == [str(items[0].id), str(items[1].id)]
    assert body["changes"][0]["entity"] == "line_item"
    assert body["changes"][0]["action"] == "approve"
    assert body["changes"][0]["data"]["status"] == "approved"
    assert body["next_cursor"] == body["changes"][-1]["cursor"]
    rest, end = await collect(client, scene, body["next_cursor"], 1)
    assert [c["id"] for c in rest] == [str(items[2].id)]
    again = await page(client, scene, end)
    assert again["changes"] == []
    # an empty page still names a position, never one before the caller's
    assert changes.decode_position(again["next_cursor"]) >= changes.decode_position(end)


async def test_a_late_commit_is_not_skipped(client: Client, scene: Scene, pool: Pool) -> None:
    _, cursor = await drain(client, scene, None)
    slow_item = await scene.pending(scene.me, date(2025, 3, 1))
    fast_item = await scene.pending(scene.me, date(2025, 3, 2))
    async with pool.acquire() as slow:
        who = await apikeys.authenticate(slow, scene.keys["manager"])
        transaction = slow.transaction()
        await transaction.start()
        await money.decide(slow, who, [Requested(slow_item.id, "approve", 1)])
        await approve(client, scene, fast_item)  # starts later, commits first
        hidden, cursor = await drain(client, scene, cursor)
        assert hidden == []  # an earlier transaction is still open: wait for it
        await transaction.commit()
    both, _ = await collect(client, scene, cursor, 2)
    assert [c["id"] for c in both] == [str(slow_item.id), str(fast_item.id)]


async def test_scoping(client: Client, scene: Scene, pool: Pool) -> None:
    mine = await scene.pending(scene.me, date(2025, 3, 1))
    abroad = await scene.pending(scene.stranger, date(2025, 3, 1))
    await approve(client, scene, mine)
    resp = await client.post(
        f"/v1/line-items/{abroad.id}/approve",
        json={"version": 1},
        headers={"Authorization": f"Bearer {scene.other_manager}"},
    )
    assert resp.status == 200
    async with pool.acquire() as conn:  # internal entities never reach the feed
        await audit.record(
            conn, actor="cli", fleet_id=None, entity="api_key", entity_id=mine.id, action="create"
        )
    hr, _ = await collect(client, scene, None, 1)
    assert [c["id"] for c in hr] == [str(mine.id)]
    assert (await page(client, scene, _))["changes"] == []
    everything = (await page(client, scene, None, role="admin"))["changes"]
    assert {c["id"] for c in everything} <= {str(mine.id), str(abroad.id)}
    only, _ = await collect(client, scene, None, 1, "admin", fleet_id=str(scene.other_fleet.id))
    assert [c["id"] for c in only] == [str(abroad.id)]
    assert (await page(client, scene, None, entity="employee"))["changes"] == []
    for role, fleet, status in [
        ("employee", None, 403),
        ("hr", scene.other_fleet.id, 404),
        ("manager", None, 200),
        ("bound_manager", None, 200),
    ]:
        params = {"fleet_id": str(fleet)} if fleet else {}
        resp = await client.get("/v1/changes", params=params, headers=auth(scene, role))
        assert resp.status == status


@pytest.mark.parametrize(
    "cursor", ["junk", "W10", "WyIxIiwgLTFd", "WyJ4IiwgMV0", "WyIxIiwgMS41XQ", "e30"]
)
async def test_foreign_cursors_are_422(client: Client, scene: Scene, cursor: str) -> None:
    resp = await client.get("/v1/changes", params={"after": cursor}, headers=auth(scene))
    assert resp.status == 422


def test_cursor_round_trip_and_positions() -> None:
    position = Position(2**40 + 7, 12)
    assert changes.decode_position(changes.encode_position(position)) == position
    assert changes.decode_position(None) == Position()
    full = next_position(Position(5, 1), Position(9, 3), full=True, horizon=100)
    assert full == Position(9, 3)
    partial = next_position(Position(5, 1), Position(9, 3), full=False, horizon=100)
    assert partial == Position(99, 2**63 - 1)
    ahead = next_position(Position(500, 1), None, full=False, horizon=100)
    assert ahead == Position(500, 1)


async def test_poller_sees_every_change_exactly_once_under_concurrent_writers(
    client: Client, scene: Scene, pool: Pool
) -> None:
    rng = random.Random(20251124)
    per_writer = 12
    employees = [scene.me, scene.colleague]
    items = [
        await scene.pending(employees[n % 2], date(2025, 1, 1) + timedelta(days=n))
        for n in range(4 * per_writer)
    ]
    async with pool.acquire() as conn:
        who = await apikeys.authenticate(conn, scene.keys["manager"])
    writers_done = asyncio.Event()

    async def writer(batch: list[LineItem], seed: int) -> None:
        local = random.Random(seed)
        for item in batch:
            async with pool.acquire() as conn, conn.transaction():
                if local.random() < 0.3:  # hold the transaction open in the database itself
                    await conn.execute("SELECT pg_sleep($1)", local.uniform(0.01, 0.15))
                await money.decide(conn, who, [Requested(item.id, "approve", 1)])
                await asyncio.sleep(local.uniform(0, 0.12))
                if local.random() < 0.5:
                    await money.decide(conn, who, [Requested(item.id, "reopen", 2, "again")])
                await asyncio.sleep(local.uniform(0, 0.05))

    async def poller() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        cursor = None
        while not writers_done.is_set() or len(seen) < expected:
            body = await page(client, scene, cursor, limit=str(rng.randint(1, 7)))
            seen += body["changes"]
            cursor = body["next_cursor"]
            await asyncio.sleep(rng.uniform(0, 0.02))
        assert (await page(client, scene, cursor))["changes"] == []
        return seen

    expected = 2**31
    polling = asyncio.create_task(poller())
    await asyncio.gather(*(writer(items[w::4], seed=w) for w in range(4)))
    expected = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE fleet_id = $1", scene.fleet.id
    )
    writers_done.set()
    seen = await asyncio.wait_for(polling, timeout=30)

    positions = [changes.decode_position(c["cursor"]) for c in seen]
    assert positions == sorted(positions)
    seen_ids = [p.id for p in positions]
    assert len(seen_ids) == len(set(seen_ids)), "a change was delivered twice"
    logged = await pool.fetch(
        "SELECT id FROM audit_events WHERE fleet_id = $1 ORDER BY id", scene.fleet.id
    )
    assert sorted(seen_ids) == [row["id"] for row in logged], "a change was lost"
    assert len(seen_ids) >= 4 * per_writer
