"""The simulator's aiohttp application: routes and the middleware every protocol request
passes (request id, latency, application rate limit, counting)."""

from __future__ import annotations

import re
from uuid import uuid4

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from billing.smartcar_sim.api import ApiHandlers
from billing.smartcar_sim.context import REQUEST_ID, Hangs, Reply
from billing.smartcar_sim.control import ControlHandlers
from billing.smartcar_sim.oauth import OAuthHandlers
from billing.smartcar_sim.simulator import Simulator
from billing.smartcar_sim.stats import NO_ANSWER, RecordCall
from billing.smartcar_sim.wire import v2_error

# Endpoints that draw from the application's token bucket (Connect and OAuth do not).
API_ENDPOINTS = frozenset({"vehicles", "user", "vehicle", "charge_records"})
_OTHER_VERSION = re.compile(r"/v(?!2\.0/)[0-9][^/]*/")


def _middleware(sim: Simulator, api: ApiHandlers) -> Middleware:
    @web.middleware
    async def protocol(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/sim/"):
            return await handler(request)
        now = sim.now()
        rid = str(uuid4())
        request[REQUEST_ID] = rid
        endpoint = request.match_info.route.name or "unknown"
        vehicle_id = request.match_info.get("vehicle_id")
        status: int | str = NO_ANSWER
        try:
            await sim.delay()
            try:
                response = await _limited(sim, api, request, handler, endpoint)
            except Reply as reply:
                response = reply.response
            except web.HTTPException as exc:
                if exc.status not in (404, 405):
                    status = exc.status
                    exc.headers["SC-Request-Id"] = rid
                    raise
                code = "VERSION" if _OTHER_VERSION.match(request.path) else "PATH"
                response = api.error(request, "RESOURCE_NOT_FOUND", code)
            response.headers["SC-Request-Id"] = rid
            status = response.status
            return response
        finally:
            sim.counters.request(endpoint, status, vehicle_id)
            if endpoint == "charge_records" and vehicle_id is not None:
                sim.counters.record_call(vehicle_id, RecordCall(now, status, rid))

    return protocol


async def _limited(
    sim: Simulator, api: ApiHandlers, request: web.Request, handler: Handler, endpoint: str
) -> web.StreamResponse:
    if endpoint in API_ENDPOINTS:
        wait = sim.bucket.take(sim.now())
        if wait is not None:
            sim.counters.throttles["app"] += 1
            return v2_error(
                "RATE_LIMIT",
                "SMARTCAR_API",
                request_id=request[REQUEST_ID],
                headers={"Retry-After": sim.retry_after(wait)},
            )
    return await handler(request)


def build_app(sim: Simulator) -> web.Application:
    """The application over `sim`'s state; see the package docstring for the endpoints."""
    hangs = Hangs(sim.options.hang_s)
    oauth = OAuthHandlers(sim, hangs)
    api = ApiHandlers(sim, hangs)
    app = web.Application(middlewares=[_middleware(sim, api)])
    router = app.router
    # Smartcar answers a path with or without a trailing slash; its SDKs send both
    # (`vehicle.attributes()` asks for `/v2.0/vehicles/{id}/`).
    slash = "{_slash:/?}"
    router.add_get(f"/oauth/authorize{slash}", oauth.authorize, name="authorize")
    router.add_post(f"/oauth/token{slash}", oauth.token, name="token")
    router.add_get(f"/v2.0/vehicles{slash}", api.vehicles, name="vehicles")
    router.add_get(f"/v2.0/user{slash}", api.user, name="user")
    router.add_get(f"/v2.0/vehicles/{{vehicle_id}}{slash}", api.vehicle, name="vehicle")
    router.add_get(
        f"/v2.0/vehicles/{{vehicle_id}}/tesla/charge/records{slash}",
        api.charge_records,
        name="charge_records",
    )
    ControlHandlers(sim).register(router)
    app.on_shutdown.append(hangs.on_shutdown)
    return app
