"""Signing in through the pages, for tests that drive them over HTTP."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "the page has no form with a CSRF token"
    return match.group(1)


async def sign_in(client: Client, key: str) -> str:
    """Sign in with `key`; returns the CSRF token of the new session."""
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"api_key": key, "csrf_token": csrf_of(await form.text()), "next": "/app"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    landing = await client.get("/app")
    assert landing.status == 200
    return csrf_of(await landing.text())
