"""Connect (`/oauth/authorize`, auto-consent) and the token endpoint (`/oauth/token`)."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from yarl import URL

from billing.smartcar_sim.accounts import DEFAULT_SCOPES, OAuthError
from billing.smartcar_sim.context import Hangs, reset
from billing.smartcar_sim.simulator import Simulator
from billing.smartcar_sim.wire import html_page, json_response, oauth_error

REQUIRED_PREFIX = "required:"
# Connect outcomes a test can ask for with `sim_error=`.
CONNECT_ERRORS = MappingProxyType(
    {
        "access_denied": "User denied access to the requested scope of permissions.",
        "vehicle_incompatible": "The user's vehicle is not compatible with this application.",
        "no_vehicles": "The user's connected services account has no vehicles.",
    }
)


def _bad_request(text: str) -> web.Response:
    return html_page(400, "Bad Request", text)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def _zone_param(request: web.Request) -> str | None:
    zone = request.query.get("sim_timezone")
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError("sim_timezone must be an IANA time zone") from None
    return zone


def _field(form: Mapping[str, object], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


class OAuthHandlers:
    def __init__(self, sim: Simulator, hangs: Hangs) -> None:
        self._sim = sim
        self._hangs = hangs

    async def authorize(self, request: web.Request) -> web.Response:
        """Auto-consent: redirect with a code, or with the error asked for by `sim_error`.
        `sim_vehicles=N` sizes a new user, `sim_user=<id>` reconnects an existing one,
        `sim_history_days=D` backdates a new user's grant and `sim_timezone=<IANA zone>` sets
        its vehicles' zone. Scopes may carry Smartcar's `required:` prefix."""
        sim, query = self._sim, request.query
        if query.get("client_id") != sim.options.client_id:
            return _bad_request("Unknown client_id.")
        try:
            target = URL(query.get("redirect_uri", ""))
        except ValueError:
            return _bad_request("Invalid redirect_uri.")
        if not target.is_absolute() or target.scheme not in ("http", "https"):
            return _bad_request("redirect_uri must be an absolute http(s) URL.")
        if query.get("response_type") != "code":
            return _bad_request("response_type must be code.")
        state = query.get("state")
        error = query.get("sim_error")
        if error is not None:
            if error not in CONNECT_ERRORS:
                return _bad_request(f"Unknown sim_error; use one of {', '.join(CONNECT_ERRORS)}.")
            return _redirect(
                target, {"error": error, "error_description": CONNECT_ERRORS[error]}, state
            )
        now = sim.now()
        user_id = query.get("sim_user")
        if user_id is not None:
            if user_id not in sim.accounts.users:
                return _bad_request("Unknown sim_user.")
        else:
            try:
                count = _int_param(request, "sim_vehicles", 1, 1, 100)
                days = _int_param(request, "sim_history_days", 0, 0, 3650)
                zone = _zone_param(request)
            except ValueError as exc:
                return _bad_request(str(exc))
            user_id = sim.add_user(count, now - timedelta(days=days), timezone=zone).user_id
        # `required:read_charge_records` asks for the same permission, marked as one the
        # owner may not deselect; the token carries the permission's plain name.
        requested = query.get("scope", "").split()
        scopes = frozenset(s.removeprefix(REQUIRED_PREFIX) for s in requested) or DEFAULT_SCOPES
        # The exchange must present the redirect_uri exactly as given here.
        code = sim.accounts.issue_code(user_id, query["redirect_uri"], scopes, now)
        return _redirect(target, {"code": code}, state)

    async def token(self, request: web.Request) -> web.Response:
        """The authorization-code and refresh-token grants."""
        sim = self._sim
        if not request.headers.get("User-Agent"):
            return oauth_error("invalid_request", "The User-Agent header is required.")
        if not self._client_ok(request):
            response = oauth_error("invalid_client", "Invalid client credentials.", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="smartcar"'
            return response
        form = await request.post()
        grant_type = _field(form, "grant_type")
        if grant_type == "authorization_code":
            code, redirect_uri = _field(form, "code"), _field(form, "redirect_uri")
            if code is None or redirect_uri is None:
                return oauth_error("invalid_request", "code and redirect_uri are required.")
            now = sim.now()
            try:
                pair = sim.accounts.exchange_code(code, redirect_uri, now)
            except OAuthError as exc:
                return oauth_error(exc.error, exc.description, exc.status)
            sim.counters.events["code_exchange"] += 1
            return json_response(pair.to_json(now))
        if grant_type == "refresh_token":
            token = _field(form, "refresh_token")
            if token is None:
                return oauth_error("invalid_request", "refresh_token is required.")
            return await self._refresh(request, token)
        return oauth_error("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")

    def _client_ok(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:
            return False
        login, _, password = decoded.partition(":")
        options = self._sim.options
        # Both comparisons always run, so timing does not tell which part was wrong.
        login_ok = secrets.compare_digest(login.encode(), options.client_id.encode())
        password_ok = secrets.compare_digest(password.encode(), options.client_secret.encode())
        return login_ok and password_ok

    async def _refresh(self, request: web.Request, token: str) -> web.Response:
        sim = self._sim
        fault = sim.faults.take_token()
        if fault is not None:
            sim.counters.faults[f"token:{fault.kind}"] += 1
            if fault.kind == "server_error":
                return oauth_error("server_error", "The authorization server failed.", 500)
            if fault.kind == "invalid_grant":
                sim.counters.events["refresh_rejected"] += 1
                return oauth_error("invalid_grant", "Invalid or expired token")
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)
        now = sim.now()
        try:
            result = sim.accounts.refresh(token, now)
        except OAuthError as exc:
            sim.counters.events["refresh_rejected"] += 1
            return oauth_error(exc.error, exc.description, exc.status)
        sim.counters.events["refresh_reuse" if result.reused else "refresh"] += 1
        # The refresh has taken effect; the client just never hears about it.
        if fault is not None and fault.kind == "drop":
            return await self._hangs.hang(request)
        if fault is not None and fault.kind == "reset":
            reset(request)
        return json_response(result.pair.to_json(now))


def _redirect(target: URL, params: dict[str, str], state: str | None) -> web.Response:
    if state is not None:
        params = {**params, "state": state}
    return web.Response(status=302, headers={"Location": str(target.extend_query(params))})
