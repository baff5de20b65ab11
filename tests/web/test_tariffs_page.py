"""Tariffs in the pages: a correction is previewed, then applied, through the same service."""

from __future__ import annotations

from datetime import date

import pytest

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene
from tests.web.pages import Client, sign_in


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def test_a_manager_previews_then_applies_a_correction(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.colleague, date(2025, 3, 10))
    csrf = await sign_in(client, scene.keys["manager"])
    form = await client.get(f"/app/tariffs?correct={scene.tariff.id}")
    assert "Correct a past price" in await form.text()
    fields = {"csrf_token": csrf, "price_per_kwh": "0.40", "from": "2025-03-01"}
    preview = await client.post(f"/app/tariffs/{scene.tariff.id}/preview", data=fields)
    html = await preview.text()
    assert preview.status == 200
    assert "Difference: 1.05 EUR" in html
    assert await pool.fetchval("SELECT amount FROM line_items WHERE id = $1", item.id) == (
        item.amount
    )
    applied = await client.post(f"/app/tariffs/{scene.tariff.id}/apply", data=fields)
    assert "The correction was applied: 1 pending line(s)" in await applied.text()
    amount = await pool.fetchval("SELECT amount FROM line_items WHERE id = $1", item.id)
    assert str(amount).startswith("4.20")


async def test_hr_sees_tariffs_but_cannot_correct(client: Client, scene: Scene) -> None:
    csrf = await sign_in(client, scene.keys["hr"])
    html = await (await client.get("/app/tariffs")).text()
    assert "0.30 EUR/kWh" in html
    assert "Correct the price" not in html
    response = await client.post(
        f"/app/tariffs/{scene.tariff.id}/apply", data={"csrf_token": csrf, "price_per_kwh": "1"}
    )
    assert response.status == 403


async def test_a_bad_price_is_a_clear_page(client: Client, scene: Scene) -> None:
    csrf = await sign_in(client, scene.keys["manager"])
    response = await client.post(
        f"/app/tariffs/{scene.tariff.id}/preview",
        data={"csrf_token": csrf, "price_per_kwh": "lots"},
    )
    assert response.status == 422
    assert "price_per_kwh" in await response.text()


async def test_another_fleets_tariff_is_not_found(client: Client, scene: Scene) -> None:
    csrf = await sign_in(client, scene.keys["manager"])
    response = await client.post(
        f"/app/tariffs/{scene.other_tariff.id}/preview",
        data={"csrf_token": csrf, "price_per_kwh": "0.5"},
    )
    assert response.status == 404
