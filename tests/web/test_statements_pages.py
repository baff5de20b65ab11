"""The month-end close in the pages: drafts, finalize, PDF, void, exports, and who sees what."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene
from tests.web.pages import Client, sign_in

PERIOD = "2025-03"


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    scene = await build_scene(factory)
    for day in (1, 2):
        await scene.items.priced_day(
            scene.vehicle_of(scene.colleague), scene.tariff, date(2025, 3, day), status="approved"
        )
    await scene.pending(scene.colleague, date(2025, 3, 3))
    return scene


async def _draft(client: Client, csrf: str) -> str:
    response = await client.post(
        "/app/statements/drafts", data={"csrf_token": csrf, "period": PERIOD}
    )
    html = await response.text()
    assert "Drafts: 1 created, 0 refreshed, 0 unchanged." in html
    match = re.search(r'href="/app/statements/([0-9a-f-]{36})"', html)
    assert match is not None
    return match.group(1)


async def test_a_manager_drafts_finalizes_downloads_and_voids(
    client: Client, scene: Scene, pool: Pool
) -> None:
    csrf = await sign_in(client, scene.keys["manager"])
    statement = await _draft(client, csrf)
    page = await (await client.get(f"/app/statements/{statement}")).text()
    assert "Pending, not included" in page
    assert "6.30 EUR" in page
    finalized = await client.post(
        f"/app/statements/{statement}/finalize", data={"csrf_token": csrf}
    )
    text = await finalized.text()
    assert re.search(r"Finalized as S-\d{4}-00001\.", text)
    pdf = await client.get(f"/app/statements/{statement}/pdf")
    assert pdf.content_type == "application/pdf"
    first = await pdf.read()
    assert first.startswith(b"%PDF")
    assert await (await client.get(f"/app/statements/{statement}/pdf")).read() == first
    voided = await client.post(
        f"/app/statements/{statement}/void", data={"csrf_token": csrf, "reason": "wrong month"}
    )
    assert "Voided; its number stays used" in await voided.text()
    assert await pool.fetchval("SELECT status FROM statements WHERE id = $1", statement) == "void"


async def test_voiding_needs_a_reason(client: Client, scene: Scene) -> None:
    csrf = await sign_in(client, scene.keys["manager"])
    statement = await _draft(client, csrf)
    await client.post(f"/app/statements/{statement}/finalize", data={"csrf_token": csrf})
    response = await client.post(
        f"/app/statements/{statement}/void", data={"csrf_token": csrf, "reason": " "}
    )
    assert response.status == 422


async def test_hr_exports_once_and_downloads_the_same_bytes(
    client: Client, scene: Scene, factory: Factory
) -> None:
    manager = await sign_in(client, scene.keys["manager"])
    statement = await _draft(client, manager)
    await client.post(f"/app/statements/{statement}/finalize", data={"csrf_token": manager})
    await client.post("/logout", data={"csrf_token": manager})
    csrf = await sign_in(client, scene.keys["hr"])
    page = await (await client.get(f"/app/statements/{statement}")).text()
    assert ">Finalize</button>" not in page
    assert ">Void</button>" not in page
    created = await client.post("/app/exports", data={"csrf_token": csrf, "format": "csv"})
    html = await created.text()
    assert "Export created with 1 document(s)." in html
    link = re.search(r'href="(/app/exports/[0-9a-f-]{36}/file)"', html)
    assert link is not None
    first = await client.get(link.group(1))
    body = await first.read()
    assert first.headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert b"S-" in body
    assert await (await client.get(link.group(1))).read() == body
    again = await client.post("/app/exports", data={"csrf_token": csrf, "format": "csv"})
    assert again.status == 409


async def test_an_employee_sees_only_their_own_finalized_statements(
    client: Client, scene: Scene, factory: Factory
) -> None:
    manager = await sign_in(client, scene.keys["manager"])
    statement = await _draft(client, manager)
    await client.post("/logout", data={"csrf_token": manager})
    colleague_key = await factory.key("employee", scene.fleet, scene.colleague)
    csrf = await sign_in(client, colleague_key)
    assert (await client.get(f"/app/statements/{statement}")).status == 404  # a draft
    assert (await client.get("/app/exports")).status == 403
    response = await client.post(
        "/app/statements/drafts", data={"csrf_token": csrf, "period": PERIOD}
    )
    assert response.status == 403
    await client.post("/logout", data={"csrf_token": csrf})
    manager = await sign_in(client, scene.keys["manager"])
    await client.post(f"/app/statements/{statement}/finalize", data={"csrf_token": manager})
    await client.post("/logout", data={"csrf_token": manager})
    csrf = await sign_in(client, colleague_key)
    assert (await client.get(f"/app/statements/{statement}")).status == 200
    await client.post("/logout", data={"csrf_token": csrf})
    await sign_in(client, scene.keys["employee"])  # a colleague of the statement's employee
    assert (await client.get(f"/app/statements/{statement}")).status == 404
