"""Browser tests: a real Chromium (the system's, Playwright's own download cannot work
offline) driving `billing serve` started as a subprocess on a free port."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import SECRET_KEY

ARTIFACTS = Path(os.environ.get("BILLING_TEST_ARTIFACTS", "build/screens"))


def _chromium() -> str | None:
    configured = os.environ.get("BILLING_TEST_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        pytest.skip(
            "no Chromium here: install it (apt-get install -y chromium) to run browser tests"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve_env() -> dict[str, str]:
    """Extra environment for `billing serve`; a test overrides it to add Smartcar settings."""
    return {}


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
async def served(
    db_dsn: str, tmp_path: Path, port: int, serve_env: dict[str, str]
) -> AsyncIterator[str]:
    """`billing serve` on the test database; its base URL."""
    env = {
        **os.environ,
        **serve_env,
        "BILLING_DATABASE_URL": db_dsn,
        "BILLING_SECRET_KEY": SECRET_KEY,
        "BILLING_HOST": "127.0.0.1",
        "BILLING_PORT": str(port),
        "BILLING_LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "billing", "serve", env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError((tmp_path / "serve.log").read_text())
                try:
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("billing serve did not answer within 60 s")
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
        log.close()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> None:
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
