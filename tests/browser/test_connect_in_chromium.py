"""An employee connects a car from the browser session, against the Smartcar simulator."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from billing.db.pool import Pool
from billing.smartcar_sim import Simulator, SimulatorOptions
from tests.browser.conftest import screenshot
from tests.browser.test_pages_in_chromium import sign_in
from tests.factories import Factory
from tests.integration.conftest import sim, sim_options

__all__ = ["sim", "sim_options"]


@pytest.fixture
def serve_env(sim: Simulator, sim_options: SimulatorOptions, port: int) -> dict[str, str]:
    assert sim.url is not None
    return {
        "BILLING_SMARTCAR_API_URL": sim.url,
        "BILLING_SMARTCAR_AUTH_URL": sim.url,
        "BILLING_SMARTCAR_CONNECT_URL": sim.url,
        "BILLING_SMARTCAR_CLIENT_ID": sim_options.client_id,
        "BILLING_SMARTCAR_CLIENT_SECRET": sim_options.client_secret,
        "BILLING_SMARTCAR_REDIRECT_URI": f"http://127.0.0.1:{port}/v1/connect/callback",
    }


async def test_an_employee_connects_a_car_from_the_page(
    page: Page, served: str, factory: Factory, pool: Pool
) -> None:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    key = await factory.key("employee", fleet, employee)
    await sign_in(page, served, key)
    await page.goto(f"{served}/app/me")
    await page.get_by_role("button", name="Connect my car").click()
    await expect(page.get_by_role("heading", name=f"Thank you, {employee.name}")).to_be_visible()
    await expect(page.get_by_text("1 car(s) are now connected")).to_be_visible()
    await screenshot(page, "connect-done")
    assert (
        await pool.fetchval("SELECT count(*) FROM vehicles WHERE employee_id = $1", employee.id)
        == 1
    )
    await page.goto(f"{served}/app/me")
    await expect(page.locator(".sync")).to_have_text("new")
