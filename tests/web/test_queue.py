"""The approval queue in the pages: names not ids, filters, sort, and decisions by version."""

from __future__ import annotations

from datetime import date

import pytest

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene
from tests.web.pages import Client, sign_in

DAY = date(2025, 3, 10)


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def test_the_queue_names_employees_and_hides_other_fleets(
    client: Client, scene: Scene
) -> None:
    await scene.pending(scene.colleague, DAY)
    await scene.pending(scene.stranger, DAY)
    await sign_in(client, scene.keys["manager"])
    html = await (await client.get("/app/line-items")).text()
    assert scene.colleague.name in html
    assert scene.stranger.name not in html
    assert "1 line item(s)" in html


async def test_filters_and_sort_are_applied_on_the_server(client: Client, scene: Scene) -> None:
    await scene.pending(scene.colleague, date(2025, 3, 1), home_kwh="1")
    await scene.pending(scene.colleague, date(2025, 3, 2), home_kwh="30")
    await scene.pending(scene.colleague, date(2025, 4, 1), home_kwh="5")
    await sign_in(client, scene.keys["manager"])
    html = await (await client.get("/app/line-items?period=2025-03&sort=amount&order=desc")).text()
    assert "2 line item(s)" in html
    assert html.index("2025-03-02") < html.index("2025-03-01")
    assert "2025-04-01" not in html


async def test_an_invalid_filter_is_a_clear_page_not_a_server_error(
    client: Client, scene: Scene
) -> None:
    await sign_in(client, scene.keys["manager"])
    response = await client.get("/app/line-items?period=March&sort=random")
    assert response.status == 422
    text = await response.text()
    assert "period" in text
    assert "sort" in text


async def test_a_manager_approves_two_lines_and_the_api_shows_the_decider(
    client: Client, scene: Scene
) -> None:
    first = await scene.pending(scene.colleague, date(2025, 3, 1))
    second = await scene.pending(scene.colleague, date(2025, 3, 2))
    csrf = await sign_in(client, scene.keys["manager"])
    response = await client.post(
        "/app/line-items/decide",
        data=[
            ("csrf_token", csrf),
            ("item", f"{first.id}:{first.version}"),
            ("item", f"{second.id}:{second.version}"),
            ("decision", "approve"),
            ("f_status", "pending"),
        ],
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"].startswith("/app/line-items?status=pending")
    manager_prefix = scene.keys["manager"].rpartition("_")[0]
    for item in (first, second):
        api = await client.get(
            f"/v1/line-items/{item.id}",
            headers={"Authorization": f"Bearer {scene.keys['hr']}"},
        )
        body = await api.json()
        assert body["status"] == "approved"
        assert body["decided_by"] == f"api_key:{manager_prefix}"


async def test_a_stale_page_gets_a_conflict_and_nothing_changes(
    client: Client, scene: Scene, pool: Pool
) -> None:
    first = await scene.pending(scene.colleague, date(2025, 3, 1))
    second = await scene.pending(scene.colleague, date(2025, 3, 2))
    csrf = await sign_in(client, scene.keys["manager"])
    # someone else decides the second line after the page was loaded
    await client.post(
        f"/v1/line-items/{second.id}/reject",
        json={"version": second.version, "reason": "duplicate"},
        headers={"Authorization": f"Bearer {scene.keys['admin']}"},
    )
    response = await client.post(
        "/app/line-items/decide",
        data=[
            ("csrf_token", csrf),
            ("item", f"{first.id}:{first.version}"),
            ("item", f"{second.id}:{second.version}"),
            ("decision", "approve"),
        ],
    )
    assert response.status == 409
    assert "Nothing was changed" in await response.text()
    statuses = await pool.fetch(
        "SELECT status FROM line_items WHERE id = ANY($1::uuid[]) ORDER BY charge_date",
        [first.id, second.id],
    )
    assert [r["status"] for r in statuses] == ["pending", "rejected"]


async def test_rejecting_needs_a_reason(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.colleague, DAY)
    csrf = await sign_in(client, scene.keys["manager"])
    response = await client.post(
        "/app/line-items/decide",
        data={"csrf_token": csrf, "item": f"{item.id}:{item.version}", "decision": "reject"},
    )
    assert response.status == 422
    assert "reason" in await response.text()


async def test_a_bound_manager_cannot_approve_his_own_line_in_the_page(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.me, DAY)
    csrf = await sign_in(client, scene.keys["bound_manager"])
    response = await client.post(
        "/app/line-items/decide",
        data={"csrf_token": csrf, "item": f"{item.id}:{item.version}", "decision": "approve"},
    )
    assert response.status == 403
    assert await pool.fetchval("SELECT status FROM line_items WHERE id = $1", item.id) == (
        "pending"
    )


async def test_hr_sees_the_queue_without_decision_buttons(client: Client, scene: Scene) -> None:
    await scene.pending(scene.colleague, DAY)
    await sign_in(client, scene.keys["hr"])
    html = await (await client.get("/app/line-items")).text()
    assert scene.colleague.name in html
    assert 'value="approve"' not in html


async def test_a_line_page_shows_its_evidence_and_audit_trail(client: Client, scene: Scene) -> None:
    item = await scene.pending(scene.colleague, DAY)
    csrf = await sign_in(client, scene.keys["manager"])
    await client.post(
        "/app/line-items/decide",
        data={"csrf_token": csrf, "item": f"{item.id}:{item.version}", "decision": "approve"},
    )
    html = await (await client.get(f"/app/line-items/{item.id}")).text()
    assert "10.5 kWh × 0.3 EUR/kWh = 3.15 → 3.15 EUR" in html
    assert "Request id" in html
    assert "req-" in html
    assert "fleet default" in html
    assert "approved" in html
    assert "Audit trail" in html
