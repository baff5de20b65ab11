"""Every page for every role: reachable pages render, others answer 403 (role) or 404 (scope)."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene
from tests.web.pages import Client, sign_in

_LINK = re.compile(r'href="(/app[^"#]*)"')
STAFF_ONLY = ["/app/employees", "/app/tariffs"]


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    scene = await build_scene(factory)
    for employee in (scene.me, scene.colleague, scene.stranger):
        await scene.pending(employee, date(2025, 3, 10))
    return scene


async def walk(client: Client, start: str = "/app", limit: int = 200) -> dict[str, int]:
    """Follow every /app link breadth-first; the status of each page seen."""
    seen: dict[str, int] = {}
    queue = [start]
    while queue and len(seen) < limit:
        path = queue.pop(0).replace("&amp;", "&")
        if path in seen:
            continue
        response = await client.get(path, allow_redirects=False)
        seen[path] = response.status
        if response.status == 200:
            queue.extend(_LINK.findall(await response.text()))
    return seen


@pytest.mark.parametrize("role", ["admin", "manager", "hr", "employee", "bound_manager"])
async def test_every_linked_page_renders_for_the_role(
    client: Client, scene: Scene, role: str
) -> None:
    await sign_in(client, scene.keys[role])
    seen = await walk(client)
    assert len(seen) >= 3
    broken = {path: status for path, status in seen.items() if status != 200}
    assert broken == {}


async def test_an_employee_reaches_only_their_own_pages(client: Client, scene: Scene) -> None:
    await sign_in(client, scene.keys["employee"])
    seen = await walk(client)
    assert "/app/me" in seen
    html = await (await client.get("/app/line-items")).text()
    assert scene.me.name in html
    assert scene.colleague.name not in html
    for path in [*STAFF_ONLY, f"/app/employees/{scene.me.id}"]:
        response = await client.get(path)
        assert response.status == 403, path


async def test_staff_do_not_have_an_employee_page(client: Client, scene: Scene) -> None:
    await sign_in(client, scene.keys["manager"])
    assert (await client.get("/app/me")).status == 403


@pytest.mark.parametrize("role", ["manager", "hr"])
async def test_other_fleets_objects_answer_exactly_like_missing_ones(
    client: Client, scene: Scene, role: str
) -> None:
    await sign_in(client, scene.keys[role])
    foreign = await client.get(f"/app/employees/{scene.stranger.id}")
    missing = await client.get(f"/app/employees/{uuid.uuid4()}")
    assert foreign.status == missing.status == 404
    assert await foreign.text() == await missing.text()


async def test_a_colleagues_line_is_not_found_for_an_employee(
    client: Client, scene: Scene, factory: Factory
) -> None:
    theirs = await scene.pending(scene.colleague, date(2025, 3, 11))
    await sign_in(client, scene.keys["employee"])
    foreign = await client.get(f"/app/line-items/{theirs.id}")
    missing = await client.get(f"/app/line-items/{uuid.uuid4()}")
    assert foreign.status == missing.status == 404
    assert await foreign.text() == await missing.text()


async def test_an_unknown_page_is_a_page_not_json(client: Client, scene: Scene) -> None:
    await sign_in(client, scene.keys["manager"])
    response = await client.get("/app/nothing-here")
    assert response.status == 404
    assert response.content_type == "text/html"
