"""The vehicle API: `/v2.0/vehicles`, `/v2.0/user`, vehicle info and charge records.

A charge-records request is checked in this order: access token (401), faults Smartcar
raises before it contacts the vehicle (401/403/400/404/430, app rate limit), ownership and
scope (403), query (400), the per-vehicle throttle (429 VEHICLE), the monthly quota (430);
then the call counts as reaching the vehicle (it arms the throttle) and may still fail with a
queued fault, as not capable (501) or with a random fault.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from random import Random
from types import MappingProxyType

from aiohttp import web

from billing.smartcar_sim.accounts import AccessGrant
from billing.smartcar_sim.context import Hangs, Reply, request_id, reset
from billing.smartcar_sim.data import HISTORY_DAYS, VehicleProfile, first_readable, records
from billing.smartcar_sim.faults import Envelope, Fault
from billing.smartcar_sim.simulator import Simulator
from billing.smartcar_sim.wire import (
    html_page,
    json_response,
    legacy_error,
    timestamp,
    v2_error,
    v3_error,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"\d{1,9}")
# `GET /v2.0/vehicles` pages: Smartcar's default page size, and the largest one served.
VEHICLES_LIMIT = 10
VEHICLES_MAX_LIMIT = 50
# Retry-After of an injected RATE_LIMIT fault when the test does not say.
_DEFAULT_RETRY_AFTER = MappingProxyType({"VEHICLE": 120.0, "SMARTCAR_API": 60.0})


class ApiHandlers:
    def __init__(self, sim: Simulator, hangs: Hangs) -> None:
        self._sim = sim
        self._hangs = hangs

    def error(
        self,
        request: web.Request,
        error_type: str,
        code: str | None,
        *,
        description: str | None = None,
        detail: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        envelope: Envelope = "v2",
    ) -> web.Response:
        build = v3_error if envelope == "v3" else v2_error
        return build(
            error_type,
            code,
            request_id=request_id(request),
            description=description,
            detail=detail,
            headers=headers,
        )

    def _grant(self, request: web.Request, now: datetime) -> AccessGrant:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = None
        if scheme.lower() == "bearer":
            grant = self._sim.accounts.authenticate(token.strip(), now)
        if grant is None:
            raise Reply(self.error(request, "AUTHENTICATION", None))
        return grant

    def _owned(
        self, request: web.Request, grant: AccessGrant, vehicle_id: str, scope: str
    ) -> VehicleProfile:
        if self._sim.owners.get(vehicle_id) != grant.user_id:
            raise Reply(
                self.error(
                    request,
                    "PERMISSION",
                    None,
                    description="The access token does not grant access to this vehicle.",
                )
            )
        if scope not in grant.scopes:
            raise Reply(
                self.error(
                    request, "PERMISSION", None, description=f"The {scope} permission is missing."
                )
            )
        return self._sim.vehicles[vehicle_id]

    async def vehicles(self, request: web.Request) -> web.Response:
        """One page of the user's vehicle ids: `limit` (default 10) from `offset` (default 0);
        `paging.count` is the total. A limit above 50 is served as 50 (Smartcar's largest
        page is unconfirmed; 50 is what our client asks for)."""
        grant = self._grant(request, self._sim.now())
        ids = self._sim.accounts.users[grant.user_id].vehicle_ids
        limit = min(self._int_param(request, "limit", VEHICLES_LIMIT, 1), VEHICLES_MAX_LIMIT)
        offset = self._int_param(request, "offset", 0, 0)
        return json_response(
            {
                "vehicles": ids[offset : offset + limit],
                "paging": {"count": len(ids), "offset": offset},
            }
        )

    def _int_param(self, request: web.Request, name: str, default: int, low: int) -> int:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return default
        if not _INTEGER.fullmatch(raw) or int(raw) < low:
            raise Reply(
                self._invalid(request, name, f"{name} must be an integer of {low} or more.")
            )
        return int(raw)

    async def user(self, request: web.Request) -> web.Response:
        grant = self._grant(request, self._sim.now())
        return json_response({"id": grant.user_id})

    async def vehicle(self, request: web.Request) -> web.Response:
        vehicle_id = request.match_info["vehicle_id"]
        grant = self._grant(request, self._sim.now())
        profile = self._owned(request, grant, vehicle_id, "read_vehicle_info")
        return json_response(
            {"id": vehicle_id, "make": "TESLA", "model": profile.model, "year": profile.year}
        )

    async def charge_records(self, request: web.Request) -> web.Response:
        sim, now = self._sim, self._sim.now()
        vehicle_id = request.match_info["vehicle_id"]
        grant = self._grant(request, now)
        fault = sim.faults.take(vehicle_id, "gate")
        if fault is not None:
            return await self._fault(request, vehicle_id, fault, now)
        profile = self._owned(request, grant, vehicle_id, "read_charge_records")
        start, end = self._window(request, profile, now)
        wait = sim.gate.wait(vehicle_id, now)
        if wait is not None:
            sim.counters.throttles["vehicle"] += 1
            return self.error(
                request, "RATE_LIMIT", "VEHICLE", headers={"Retry-After": sim.retry_after(wait)}
            )
        if sim.gate.over_quota(vehicle_id, now):
            return self.error(request, "BILLING", "VEHICLE_REQUEST_LIMIT")
        sim.gate.arm(vehicle_id, now)
        fault = sim.faults.take(vehicle_id, "vehicle")
        if fault is not None:
            return await self._fault(request, vehicle_id, fault, now)
        if not profile.capable:
            return self.error(request, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
        fault = sim.faults.draw()
        if fault is not None:
            return await self._fault(request, vehicle_id, fault, now)
        today = profile.today(now)
        age = Random(f"{sim.options.seed}|age|{vehicle_id}|{today}").uniform(60, 3600)
        headers = {
            "SC-Fetched-At": timestamp(now),
            "SC-Data-Age": timestamp(now - timedelta(seconds=age)),
            "SC-Unit-System": "metric",
        }
        scripted = sim.scripted_records(vehicle_id)
        served = (
            scripted
            if scripted is not None
            else records(profile, sim.options.seed, start, end, today)
        )
        body = {"records": served}
        return json_response(body, headers=headers)

    def _window(
        self, request: web.Request, profile: VehicleProfile, now: datetime
    ) -> tuple[date, date]:
        """The days to return; a start before the readable history is clamped (or rejected
        with `history_policy="reject"`), an end after today is cut to today."""
        today = profile.today(now)
        oldest = first_readable(today, self._sim.granted_day(profile.vehicle_id))
        start = self._date_param(request, "startDate") or oldest
        end = self._date_param(request, "endDate") or today
        if start > end:
            raise Reply(self._invalid(request, "startDate", "startDate is after endDate."))
        horizon = today - timedelta(days=HISTORY_DAYS - 1)
        if start < horizon and self._sim.options.history_policy == "reject":
            raise Reply(
                self._invalid(request, "startDate", f"startDate must not be before {horizon}.")
            )
        return max(start, oldest), min(end, today)

    def _date_param(self, request: web.Request, name: str) -> date | None:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return None
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError(raw)
            return date.fromisoformat(raw)
        except ValueError:
            raise Reply(self._invalid(request, name, f"{name} must be YYYY-MM-DD.")) from None

    def _invalid(self, request: web.Request, field: str, message: str) -> web.Response:
        return self.error(
            request,
            "VALIDATION",
            "PARAMETER",
            description=message,
            detail=[{"field": field, "message": message}],
        )

    async def _fault(
        self, request: web.Request, vehicle_id: str, fault: Fault, now: datetime
    ) -> web.Response:
        sim = self._sim
        sim.counters.faults[fault.kind] += 1
        if fault.kind == "html_502":
            return html_page(502, "Bad Gateway")
        if fault.kind == "timeout":
            return await self._hangs.hang(request)
        if fault.kind == "reset":
            reset(request)
        if fault.kind == "legacy_json":
            return legacy_error(request_id(request))
        assert fault.error_type is not None
        headers: dict[str, str] = {}
        if fault.error_type == "RATE_LIMIT":
            code = (fault.code or "VEHICLE").upper()
            seconds = fault.retry_after_s or _DEFAULT_RETRY_AFTER[code]
            if code == "VEHICLE":
                sim.counters.throttles["vehicle"] += 1
                sim.gate.block(vehicle_id, now, seconds)
            else:
                sim.counters.throttles["app"] += 1
            headers["Retry-After"] = sim.retry_after(seconds)
        return self.error(
            request, fault.error_type, fault.code, headers=headers, envelope=fault.envelope
        )
