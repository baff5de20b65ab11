"""People using the pages in a real browser: sign in, approve, conflicts, scoping, sign out."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    scene = await build_scene(factory)
    for day in (1, 2, 3):
        await scene.pending(scene.colleague, date(2025, 3, day), home_kwh=f"{day * 7}.25")
    await scene.pending(scene.me, date(2025, 3, 4))
    await scene.pending(scene.stranger, date(2025, 3, 4))
    return scene


async def sign_in(page: Page, url: str, key: str) -> None:
    await page.goto(f"{url}/login")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.mark.parametrize("role", ["admin", "manager", "hr", "employee"])
async def test_each_role_signs_in(page: Page, served: str, scene: Scene, role: str) -> None:
    await sign_in(page, served, scene.keys[role])
    await expect(page.locator(".role")).to_have_text(role)
    await screenshot(page, f"overview-{role}")


async def test_a_manager_approves_two_lines_in_the_queue(
    page: Page, served: str, scene: Scene
) -> None:
    await sign_in(page, served, scene.keys["manager"])
    await page.get_by_role("link", name="Line items").first.click()
    await expect(page.get_by_role("heading", name="Line items")).to_be_visible()
    await screenshot(page, "queue")
    name = scene.colleague.name
    await page.get_by_label(f"Select {name} 2025-03-01").check()
    await page.get_by_label(f"Select {name} 2025-03-02").check()
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_have_text("2 line item(s) approved.")
    manager_prefix = scene.keys["manager"].rpartition("_")[0]
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {scene.keys['hr']}"}) as http,
        http.get(f"{served}/v1/line-items?status=approved") as response,
    ):
        approved = (await response.json())["items"]
    assert sorted(item["charge_date"] for item in approved) == ["2025-03-01", "2025-03-02"]
    assert {item["decided_by"] for item in approved} == {f"api_key:{manager_prefix}"}


async def test_a_stale_approval_shows_the_conflict(page: Page, served: str, scene: Scene) -> None:
    await sign_in(page, served, scene.keys["manager"])
    await page.goto(f"{served}/app/line-items?status=pending")
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {scene.keys['admin']}"}
    ) as http:
        async with http.get(f"{served}/v1/line-items?status=pending") as response:
            items = (await response.json())["items"]
        target = next(i for i in items if i["charge_date"] == "2025-03-03")
        async with http.post(
            f"{served}/v1/line-items/{target['id']}/approve", json={"version": target["version"]}
        ) as response:
            assert response.status == 200
    await page.get_by_label(f"Select {scene.colleague.name} 2025-03-03").check()
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Nothing was changed")
    await screenshot(page, "queue-conflict")


async def test_a_line_shows_its_evidence(page: Page, served: str, scene: Scene) -> None:
    await sign_in(page, served, scene.keys["manager"])
    await page.goto(f"{served}/app/line-items")
    await page.get_by_role("link", name="2025-03-02").click()
    await expect(page.get_by_role("heading", name="The arithmetic")).to_be_visible()
    await expect(page.locator(".formula")).to_contain_text("14.25 kWh × 0.3 EUR/kWh")
    await screenshot(page, "line-evidence")


async def test_an_employee_sees_only_their_own(page: Page, served: str, scene: Scene) -> None:
    await sign_in(page, served, scene.keys["employee"])
    await page.get_by_role("link", name="Line items").first.click()
    await expect(page.get_by_text(scene.me.name).first).to_be_visible()
    await expect(page.get_by_text(scene.colleague.name)).to_have_count(0)
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    await page.get_by_role("link", name="My cars").click()
    await expect(page.get_by_role("heading", name=scene.me.name)).to_be_visible()
    await screenshot(page, "employee-me")
    response = await page.goto(f"{served}/app/employees")
    assert response is not None
    assert response.status == 403


async def test_signing_out_ends_the_session(page: Page, served: str, scene: Scene) -> None:
    await sign_in(page, served, scene.keys["hr"])
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(f"{served}/app/line-items")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_filters_apply_in_place_and_select_all_selects_every_pending_line(
    page: Page, served: str, scene: Scene
) -> None:
    await sign_in(page, served, scene.keys["manager"])
    await page.goto(f"{served}/app/line-items")
    await page.get_by_label("Employee", exact=True).select_option(label=scene.colleague.name)
    await expect(page).to_have_url(
        f"{served}/app/line-items?employee_id={scene.colleague.id}&sort=charge_date&order=asc"
    )
    await expect(page.get_by_text("3 line item(s)")).to_be_visible()
    await page.get_by_label("Select all pending").check()
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_have_text("3 line item(s) approved.")


async def test_a_manager_finalizes_a_statement_and_downloads_its_pdf(
    page: Page, served: str, scene: Scene
) -> None:
    await sign_in(page, served, scene.keys["manager"])
    await page.goto(f"{served}/app/line-items?status=pending")
    await page.get_by_label("Select all pending").check()
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("approved")
    await page.get_by_role("link", name="Statements").click()
    await page.locator("#drafts-period").fill("2025-03")
    await page.get_by_role("button", name="Create or refresh drafts").click()
    await expect(page.get_by_role("status")).to_contain_text("2 created")
    await page.get_by_role("link", name="draft").first.click()
    await page.get_by_role("button", name="Finalize").click()
    await expect(page.get_by_role("status")).to_contain_text("Finalized as S-")
    await screenshot(page, "statement")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download PDF").click(modifiers=["Alt"])
    download = await download_info.value
    path = await download.path()
    assert path is not None
    content = await asyncio.to_thread(Path(path).read_bytes)
    assert content.startswith(b"%PDF-")
