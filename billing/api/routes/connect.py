"""Smartcar Connect onboarding: employees connect their cars themselves."""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from billing.api.keys import CIPHER, SETTINGS, SMARTCAR
from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.crypto import BadState, sign_state, verify_state
from billing.db import connect, master
from billing.db.pool import transaction
from billing.domain.errors import Conflict, Forbidden
from billing.services.connect import complete_connect
from billing.smartcar.errors import SmartcarError

routes = Routes()
log = logging.getLogger(__name__)
SCOPES = "read_charge_records read_vehicle_info"
STATE_TTL = timedelta(minutes=30)
BROWSER_COOKIE = "fb_connect"
# What Connect's `error` values mean, in our words: its free-text description is never shown.
CONNECT_ERRORS = {
    "access_denied": "You did not allow access to your car.",
    "vehicle_incompatible": "This car cannot share its charge records through Smartcar.",
    "no_vehicles": "No car was found in this account.",
}


class ConnectStartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: UUID


class ConnectCallbackQuery(BaseModel):
    # Smartcar may add parameters of its own to the redirect; they are not ours to refuse.
    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=512)
    state: str | None = Field(default=None, max_length=2048)
    error: str | None = Field(default=None, max_length=200)
    error_description: str | None = Field(default=None, max_length=2000)


def _browser_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode(errors="replace")).hexdigest()


def _page(title: str, message: str, status: int, items: list[str] | None = None) -> web.Response:
    rows = "".join(f"<li>{html.escape(item)}</li>" for item in items or [])
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><meta name="viewport" content="width=device-width">
<link rel="stylesheet" href="/assets/page.css"></head><body><h1>{html.escape(title)}</h1>
<p>{html.escape(message)}</p>{f"<ul>{rows}</ul>" if rows else ""}</body></html>"""
    return web.Response(text=body, status=status, content_type="text/html")


@routes.route(
    "GET",
    "/v1/connect/start",
    summary="Send the employee to Smartcar Connect",
    tag="connect",
    query=ConnectStartQuery,
    status=302,
    raw_response="text/html",
    errors=(403, 409),
)
async def connect_start(request: web.Request, query: ConnectStartQuery) -> web.Response:
    who = principal(request)
    settings = request.app[SETTINGS]
    async with pool(request).acquire() as conn:
        employee = await master.get_employee(conn, query.employee_id)
    who.check_sees(employee.fleet_id, employee.id, what="employee")
    if who.role == "hr" or (who.role == "employee" and who.employee_id != employee.id):
        raise Forbidden("only a manager or the employee may connect the employee's car")
    if settings.smartcar_client_id is None or settings.smartcar_redirect_uri is None:
        raise Conflict(
            "the Smartcar application is not configured: set BILLING_SMARTCAR_CLIENT_ID, "
            "BILLING_SMARTCAR_CLIENT_SECRET and BILLING_SMARTCAR_REDIRECT_URI"
        )
    assert settings.secret_key is not None
    expires = datetime.now(UTC) + STATE_TTL
    browser = secrets.token_urlsafe(32)
    state = sign_state(
        settings.secret_key.get_secret_value(),
        {
            "employee_id": str(employee.id),
            "nonce": secrets.token_urlsafe(24),
            "exp": int(expires.timestamp()),
            "by": who.actor,
            "browser": _browser_hash(browser),
        },
    )
    target = (
        URL(str(settings.smartcar_connect_url))
        .with_path("/oauth/authorize")
        .with_query(
            response_type="code",
            client_id=settings.smartcar_client_id,
            redirect_uri=str(settings.smartcar_redirect_uri),
            scope=SCOPES,
            mode="live",
            make="TESLA",
            state=state,
        )
    )
    found = web.HTTPFound(str(target))
    # The state only works in the browser that started the flow (a forwarded link does not).
    found.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(STATE_TTL.total_seconds()),
        path="/v1/connect",
        httponly=True,
        samesite="Lax",
        secure=str(settings.smartcar_redirect_uri).startswith("https:"),
    )
    raise found


@routes.route(
    "GET",
    "/v1/connect/callback",
    summary="Where Smartcar Connect sends the employee back",
    tag="connect",
    query=ConnectCallbackQuery,
    public=True,
    raw_response="text/html",
    html_errors=(400, 409, 502),
)
async def connect_callback(request: web.Request, query: ConnectCallbackQuery) -> web.Response:
    settings = request.app[SETTINGS]
    assert settings.secret_key is not None
    try:
        if not query.state:
            raise BadState("the link has no state")
        payload = verify_state(
            settings.secret_key.get_secret_value(), query.state, int(datetime.now(UTC).timestamp())
        )
    except BadState as exc:
        return _page("This link is not valid", f"{exc}. Please start again from the app.", 400)
    try:
        employee_id = UUID(str(payload["employee_id"]))
    except ValueError:
        return _page("This link is not valid", "The state is malformed. Please start again.", 400)
    cookie = request.cookies.get(BROWSER_COOKIE, "")
    bound = str(payload.get("browser", ""))
    if not bound or not hmac.compare_digest(
        _browser_hash(cookie).encode(), bound.encode(errors="replace")
    ):
        return _page(
            "This link belongs to another browser",
            "A connection link only works in the browser that started it, for the person who "
            "started it. Nothing was changed. Please start connecting again yourself.",
            400,
        )
    client = request.app[SMARTCAR]
    now = datetime.now(UTC)
    async with transaction(pool(request)) as conn:
        employee = await master.get_employee(conn, employee_id)
        # A state works once, whatever the outcome: a failed or refused callback cannot be
        # replayed (nor its error text shown again to someone sent the link).
        if not await connect.consume_state(conn, str(payload["nonce"]), employee_id):
            return _page(
                "This link was already used",
                "Each connection link works once. Please start again.",
                400,
            )
        if query.error:
            log.info("Connect ended with %s: %s", query.error, query.error_description)
            reason = CONNECT_ERRORS.get(query.error, "Smartcar could not connect your car.")
            return _page("Your car was not connected", f"{reason} You can try again any time.", 400)
        if not query.code:
            return _page("This link is not valid", "Smartcar sent no authorization code.", 400)
        try:
            grant = await client.exchange_code(query.code, now=now)
            token = grant.access_token.get_secret_value()
            user_id = await client.user_id(token, now=now)
            vehicle_ids = await client.vehicle_ids(token, now=now)
        except SmartcarError as error:
            log.warning("Connect code exchange failed: %s", error)
            return _page(
                "Your car was not connected",
                "Smartcar could not complete the connection. Please try again.",
                502,
            )
        result = await complete_connect(
            conn,
            request.app[CIPHER],
            employee=employee,
            smartcar_user_id=user_id,
            grant=grant,
            vehicle_ids=vehicle_ids,
            now=now,
            actor=str(payload.get("by", "connect")),
        )
    if result.refused is not None:
        return _page(
            "Your car was not connected",
            f"Nothing was changed: {result.refused}. Your fleet manager can move it to you.",
            409,
        )
    linked = result.linked
    lines = [
        f"{v.smartcar_vehicle_id}: "
        + (
            "registered for someone else, not linked (your fleet manager can help)"
            if v.vehicle_id is None
            else "reconnected"
            if v.reconnected
            else "connected"
        )
        for v in linked
    ]
    return _page(
        f"Thank you, {employee.name}",
        f"{sum(v.vehicle_id is not None for v in linked)} car(s) are now connected. "
        "Home charging will be read daily.",
        200,
        lines,
    )
