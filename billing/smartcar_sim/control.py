"""`/sim/*`: steering and reading the simulator over HTTP (for a standalone simulator).

Not part of Smartcar's protocol: not rate limited, not delayed, not counted.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from billing.smartcar_sim.faults import TokenFaultKind
from billing.smartcar_sim.simulator import Simulator
from billing.smartcar_sim.wire import json_response, timestamp

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultRequest(_Body):
    vehicle_id: str | None = None
    kind: str
    count: int = Field(default=1, ge=1, le=100_000)
    retry_after_s: float | None = Field(default=None, ge=0)


class TokenFaultRequest(_Body):
    kind: TokenFaultKind
    count: int = Field(default=1, ge=1, le=100_000)
    delay_s: float = Field(default=0.0, ge=0)


class UserRequest(_Body):
    vehicles: int = Field(default=1, ge=0, le=100)
    history_days: int = Field(default=30, ge=0, le=3650)
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ValueError, ZoneInfoNotFoundError):
                raise ValueError("must be an IANA time zone") from None
        return value


class ClockRequest(_Body):
    advance_s: float = Field(ge=0)


def _problem(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def _parse(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise web.HTTPBadRequest(
            text=json.dumps({"error": fields}), content_type="application/json"
        ) from None


class ControlHandlers:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/sim/stats", self.stats)
        router.add_post("/sim/stats/reset", self.reset_stats)
        router.add_get("/sim/users", self.users)
        router.add_post("/sim/users", self.create_user)
        router.add_post("/sim/users/{user_id}/revoke", self.revoke_user)
        router.add_get("/sim/vehicles", self.vehicles)
        router.add_get("/sim/faults", self.faults)
        router.add_post("/sim/faults", self.add_fault)
        router.add_delete("/sim/faults", self.clear_faults)
        router.add_post("/sim/token-faults", self.add_token_fault)
        router.add_get("/sim/clock", self.clock)
        router.add_post("/sim/clock", self.advance_clock)

    async def stats(self, _request: web.Request) -> web.Response:
        return json_response(self._sim.stats().to_json())

    async def reset_stats(self, _request: web.Request) -> web.Response:
        self._sim.reset_stats()
        return json_response(self._sim.stats().to_json())

    async def users(self, _request: web.Request) -> web.Response:
        return json_response({"users": [user.to_json() for user in self._sim.users()]})

    async def create_user(self, request: web.Request) -> web.Response:
        body = await _parse(request, UserRequest)
        user = self._sim.create_user(
            body.vehicles, history_days=body.history_days, timezone=body.timezone
        )
        return json_response(user.to_json(), 201)

    async def revoke_user(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        if user_id not in self._sim.accounts.users:
            return _problem(404, "unknown user")
        self._sim.revoke_user(user_id)
        return json_response({"user_id": user_id, "revoked": True})

    async def vehicles(self, _request: web.Request) -> web.Response:
        sim = self._sim
        items: list[dict[str, Any]] = [
            {**profile.to_json(), "user_id": sim.owners[vehicle_id]}
            for vehicle_id, profile in sim.vehicles.items()
        ]
        return json_response({"vehicles": items})

    async def faults(self, _request: web.Request) -> web.Response:
        return json_response({"pending": self._sim.faults.pending()})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await _parse(request, FaultRequest)
        try:
            self._sim.set_fault(
                body.vehicle_id, body.kind, body.count, retry_after_s=body.retry_after_s
            )
        except KeyError:
            return _problem(404, "unknown vehicle")
        except ValueError as exc:
            return _problem(400, str(exc))
        return json_response({"pending": self._sim.faults.pending()}, 201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        self._sim.clear_faults()
        return json_response({"pending": {}})

    async def add_token_fault(self, request: web.Request) -> web.Response:
        body = await _parse(request, TokenFaultRequest)
        self._sim.set_token_fault(body.kind, body.count, delay_s=body.delay_s)
        return json_response({"kind": body.kind, "count": body.count}, 201)

    async def clock(self, _request: web.Request) -> web.Response:
        return json_response({"now": timestamp(self._sim.now())})

    async def advance_clock(self, request: web.Request) -> web.Response:
        body = await _parse(request, ClockRequest)
        return json_response({"now": timestamp(self._sim.advance(body.advance_s))})
