"""Sign-in, sessions, CSRF and the headers every page sends."""

from __future__ import annotations

from datetime import date

import pytest

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene
from tests.web.pages import Client, csrf_of, sign_in


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def test_root_sends_a_stranger_to_sign_in_and_a_signed_in_person_to_the_app(
    client: Client, scene: Scene
) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    await sign_in(client, scene.keys["manager"])
    response = await client.get("/", allow_redirects=False)
    assert response.headers["Location"] == "/app"


@pytest.mark.parametrize("role", ["admin", "manager", "hr", "employee"])
async def test_every_role_signs_in_to_its_landing_page(
    client: Client, scene: Scene, role: str
) -> None:
    await sign_in(client, scene.keys[role])
    page = await client.get("/app")
    assert page.status == 200
    assert f'<span class="role">{role}</span>' in await page.text()


async def test_a_wrong_key_is_refused_and_no_session_is_made(
    client: Client, scene: Scene, pool: Pool
) -> None:
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"api_key": "fb_manager_nope", "csrf_token": csrf_of(await form.text())},
        allow_redirects=False,
    )
    assert response.status == 401
    assert "This key is not valid" in await response.text()
    assert await pool.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_sign_in_without_the_form_token_is_refused(client: Client, scene: Scene) -> None:
    await client.get("/login")
    response = await client.post(
        "/login", data={"api_key": scene.keys["manager"], "csrf_token": "forged" * 8}
    )
    assert response.status == 403


async def test_the_session_id_is_stored_hashed_in_an_http_only_same_site_cookie(
    client: Client, scene: Scene, pool: Pool
) -> None:
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"api_key": scene.keys["hr"], "csrf_token": csrf_of(await form.text())},
        allow_redirects=False,
    )
    cookie = response.cookies["fb_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    stored = await pool.fetchval("SELECT id_hash FROM web_sessions")
    assert stored is not None
    assert cookie.value.encode() not in bytes(stored)


async def test_signing_out_revokes_the_session_server_side(client: Client, scene: Scene) -> None:
    csrf = await sign_in(client, scene.keys["manager"])
    stolen = client.session.cookie_jar.filter_cookies(client.make_url("/"))["fb_session"].value
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    client.session.cookie_jar.update_cookies({"fb_session": stolen})
    again = await client.get("/app", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"].startswith("/login")


async def test_a_revoked_key_ends_its_sessions(client: Client, scene: Scene, pool: Pool) -> None:
    await sign_in(client, scene.keys["manager"])
    prefix = scene.keys["manager"].rpartition("_")[0]
    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", prefix)
    response = await client.get("/app", allow_redirects=False)
    assert response.status == 303


async def test_an_idle_session_expires(client: Client, scene: Scene, pool: Pool) -> None:
    await sign_in(client, scene.keys["manager"])
    await pool.execute("UPDATE web_sessions SET last_seen_at = now() - interval '31 minutes'")
    response = await client.get("/app", allow_redirects=False)
    assert response.status == 303


async def test_a_form_post_without_the_session_token_changes_nothing(
    client: Client, scene: Scene, pool: Pool
) -> None:
    item = await scene.pending(scene.colleague, date(2025, 3, 10))
    await sign_in(client, scene.keys["manager"])
    response = await client.post(
        "/app/line-items/decide",
        data={"item": f"{item.id}:{item.version}", "decision": "approve"},
    )
    assert response.status == 403
    status = await pool.fetchval("SELECT status FROM line_items WHERE id = $1", item.id)
    assert status == "pending"


@pytest.mark.parametrize("path", ["/login", "/app", "/app/line-items", "/app/employees"])
async def test_pages_send_security_headers(client: Client, scene: Scene, path: str) -> None:
    await sign_in(client, scene.keys["manager"])
    response = await client.get(path)
    assert response.status == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in await response.text()


async def test_the_api_still_wants_a_bearer_key_and_ignores_the_session(
    client: Client, scene: Scene
) -> None:
    await sign_in(client, scene.keys["manager"])
    response = await client.get("/v1/line-items")
    assert response.status == 401


async def test_an_expired_key_ends_its_sessions(client: Client, scene: Scene, pool: Pool) -> None:
    await sign_in(client, scene.keys["manager"])
    prefix = scene.keys["manager"].rpartition("_")[0]
    await pool.execute(
        "UPDATE api_keys SET created_at = now() - interval '2 hours',"
        " expires_at = now() - interval '1 minute' WHERE prefix = $1",
        prefix,
    )
    response = await client.get("/app", allow_redirects=False)
    assert response.status == 303
