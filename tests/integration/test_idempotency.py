"""Idempotency-Key: replays, reuse with another body, requests in flight, expiry, purging."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from billing.api.idempotency import _storable
from billing.db import idempotency, line_items
from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]
DAY = date(2025, 3, 10)


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


def headers(scene: Scene, key: str | None, role: str = "manager") -> dict[str, str]:
    found = {"Authorization": f"Bearer {scene.keys[role]}"}
    if key is not None:
        found["Idempotency-Key"] = key
    return found


async def count(pool: Pool, sql: str, *args: object) -> int:
    value: int = await pool.fetchval(sql, *args)
    return value


async def test_same_key_same_body_replays_the_first_response(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    first = await client.post(url, json={"version": 1}, headers=headers(scene, "k-1"))
    second = await client.post(url, json={"version": 1}, headers=headers(scene, "k-1"))
    assert first.status == second.status == 200
    assert await first.read() == await second.read()
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count(pool, "SELECT count(*) FROM audit_events WHERE entity_id = $1", item.id) == 1


async def test_errors_are_replayed_too(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    first = await client.post(url, json={"version": 9}, headers=headers(scene, "k-409"))
    assert first.status == 409
    second = await client.post(url, json={"version": 9}, headers=headers(scene, "k-409"))
    assert second.status == 409
    assert second.headers["Content-Type"].startswith("application/problem+json")
    assert await first.json() == await second.json()


async def test_same_key_other_body_is_422(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.me, DAY)
    other = await scene.pending(scene.colleague, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    await client.post(url, json={"version": 1}, headers=headers(scene, "k-2"))
    changed = await client.post(url, json={"version": 2}, headers=headers(scene, "k-2"))
    assert changed.status == 422
    assert changed.content_type == "application/problem+json"
    elsewhere = await client.post(
        f"/v1/line-items/{other.id}/approve", json={"version": 1}, headers=headers(scene, "k-2")
    )
    assert elsewhere.status == 422


async def test_keys_belong_to_one_api_key(client: Client, scene: Scene) -> None:
    mine = await scene.pending(scene.me, DAY)
    theirs = await scene.pending(scene.colleague, DAY)
    first = await client.post(
        f"/v1/line-items/{theirs.id}/approve", json={"version": 1}, headers=headers(scene, "same")
    )
    assert first.status == 200
    # another API key may use the same string for its own, different request
    second = await client.post(
        f"/v1/line-items/{mine.id}/approve",
        json={"version": 1},
        headers=headers(scene, "same", "admin"),
    )
    assert second.status == 200
    assert (await second.json())["id"] == str(mine.id)


async def test_requests_without_the_header_are_not_remembered(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    assert (await client.post(url, json={"version": 1}, headers=headers(scene, None))).status == 200
    assert (await client.post(url, json={"version": 1}, headers=headers(scene, None))).status == 409
    assert await count(pool, "SELECT count(*) FROM idempotency_keys") == 0


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("x" * 255, 200),
        ("x" * 256, 422),
        ("ünïcödé-🔑", 200),
        ("a\tb", 422),
        ("'; DROP TABLE idempotency_keys; --", 200),
    ],
)
async def test_curious_keys(client: Client, scene: Scene, key: str, status: int) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    raw = {"Authorization": f"Bearer {scene.keys['manager']}", "Idempotency-Key": key}
    resp = await client.post(url, json={"version": 1}, headers=raw)
    assert resp.status == status, await resp.text()
    if status == 200:
        replay = await client.post(url, json={"version": 1}, headers=raw)
        assert replay.status == 200
        assert replay.headers["Idempotent-Replayed"] == "true"


async def test_empty_key_is_422(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.me, DAY)
    resp = await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": 1}, headers=headers(scene, "")
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "header.Idempotency-Key"


async def test_fifty_concurrent_duplicates_make_one_decision(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    responses = await asyncio.gather(
        *(client.post(url, json={"version": 1}, headers=headers(scene, "storm")) for _ in range(50))
    )
    bodies = [(r.status, await r.read()) for r in responses]
    successes = {body for status, body in bodies if status == 200}
    assert len(successes) == 1
    assert {status for status, _ in bodies} <= {200, 409}
    for status, body in bodies:
        if status == 409:
            assert b"still being processed" in body
    assert await count(pool, "SELECT count(*) FROM audit_events WHERE entity_id = $1", item.id) == 1
    # after the storm every retry gets the one stored answer
    retry = await client.post(url, json={"version": 1}, headers=headers(scene, "storm"))
    assert (retry.status, await retry.read()) == (200, successes.pop())
    other = await client.post(url, json={"version": 2}, headers=headers(scene, "storm"))
    assert other.status == 422


async def test_in_flight_duplicate_gets_409_and_a_crash_expires(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    body = b'{"version": 1}'
    principal_id = await pool.fetchval(
        "SELECT id FROM api_keys WHERE prefix = $1", scene.keys["manager"].rsplit("_", 1)[0]
    )
    digest = idempotency.request_hash("POST", url, body)
    async with pool.acquire() as conn:
        # a request that claimed the key and then died with its process
        claimed = await idempotency.claim(
            conn, api_key_id=principal_id, key="crash", method="POST", path=url, digest=digest
        )
    assert isinstance(claimed, idempotency.Claimed)
    send = {**headers(scene, "crash"), "Content-Type": "application/json"}
    busy = await client.post(url, data=body, headers=send)
    assert busy.status == 409
    assert busy.headers["Retry-After"] == "1"
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'crash'"
    )
    retried = await client.post(url, data=body, headers=send)
    assert retried.status == 200
    async with pool.acquire() as conn:  # the dead attempt's late finish changes nothing
        assert not await idempotency.finish(
            conn,
            api_key_id=principal_id,
            key="crash",
            claim=claimed.claim,
            status=201,
            body=b"{}",
            content_type=None,
        )
    replay = await client.post(url, data=body, headers=send)
    assert (replay.status, await replay.read()) == (200, await retried.read())


async def test_server_errors_release_the_key(
    client: Client, scene: Scene, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = await scene.pending(scene.me, DAY)
    url = f"/v1/line-items/{item.id}/approve"
    real = line_items.decide
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(line_items, "decide", flaky)
    failed = await client.post(url, json={"version": 1}, headers=headers(scene, "retry-me"))
    assert failed.status == 500
    assert await count(pool, "SELECT count(*) FROM idempotency_keys") == 0
    retried = await client.post(url, json={"version": 1}, headers=headers(scene, "retry-me"))
    assert retried.status == 200


async def test_every_mutating_endpoint_is_covered(client: Client, scene: Scene) -> None:
    body = {"name": "Depot", "currency": "EUR", "timezone": "Europe/Berlin"}
    first = await client.post("/v1/fleets", json=body, headers=headers(scene, "f", "admin"))
    second = await client.post("/v1/fleets", json=body, headers=headers(scene, "f", "admin"))
    assert first.status == second.status == 201
    assert (await first.json())["id"] == (await second.json())["id"]
    patch = {"name": "Renamed"}
    url = f"/v1/employees/{scene.me.id}"
    a = await client.patch(url, json=patch, headers=headers(scene, "p"))
    b = await client.patch(url, json=patch, headers=headers(scene, "p"))
    assert (a.status, await a.read()) == (b.status, await b.read())


async def test_body_too_large_is_413_and_claims_nothing(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    big = json.dumps({"version": 1, "reason": "x" * 2_000_000}).encode()
    resp = await client.post(
        f"/v1/line-items/{item.id}/reject",
        data=io.BytesIO(big),
        headers={**headers(scene, "big"), "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"
    assert await count(pool, "SELECT count(*) FROM idempotency_keys") == 0


async def test_purge_removes_only_expired_keys(client: Client, scene: Scene, pool: Pool) -> None:
    for n in range(3):
        item = await scene.pending(scene.me, date(2025, 3, n + 1))
        await client.post(
            f"/v1/line-items/{item.id}/approve", json={"version": 1}, headers=headers(scene, f"{n}")
        )
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE key <> '2'"
    )
    async with pool.acquire() as conn:
        assert await idempotency.purge_expired(conn, batch=1) == 2
    assert await count(pool, "SELECT count(*) FROM idempotency_keys") == 1


async def test_stored_responses_last_at_least_a_day(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    await client.post(
        f"/v1/line-items/{item.id}/approve", json={"version": 1}, headers=headers(scene, "day")
    )
    left = await pool.fetchval("SELECT expires_at - now() FROM idempotency_keys")
    assert left.total_seconds() >= 24 * 3600


async def test_only_final_responses_are_stored() -> None:
    assert await _storable(web.Response(status=201, body=b"{}")) == b"{}"
    assert await _storable(web.Response(status=200, body='{"a": 1}')) == b'{"a": 1}'
    assert await _storable(web.Response(status=404, text="x")) == b"x"
    assert await _storable(web.Response(status=204)) == b""
    assert await _storable(web.Response(status=500, text="boom")) is None
    assert await _storable(web.Response(status=302)) is None
    assert await _storable(web.StreamResponse(status=200)) is None
