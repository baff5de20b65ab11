"""The Smartcar simulator over real sockets, driven by a plain aiohttp client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from billing.smartcar_sim import (
    ERROR_TYPES,
    NO_ANSWER,
    SPECIAL_KINDS,
    Simulator,
    SimulatorOptions,
    SimUser,
    run_simulator,
)

REDIRECT = "https://billing.example/v1/connect/callback"
V2_FIELDS = {
    "type",
    "code",
    "description",
    "docURL",
    "statusCode",
    "requestId",
    "resolution",
    "suggestedUserMessage",
}
START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def options(**overrides: Any) -> SimulatorOptions:
    base = SimulatorOptions(seed=7, vehicle_min_interval_s=0, clock=Clock())
    return replace(base, **overrides)


@dataclass
class Harness:
    sim: Simulator
    http: aiohttp.ClientSession

    @property
    def basic(self) -> dict[str, str]:
        options = self.sim.options
        return {
            "Authorization": aiohttp.encode_basic_auth(options.client_id, options.client_secret)
        }

    async def get(self, path: str, token: str | None, **params: str) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(f"{self.sim.url}{path}", headers=headers, params=params) as r:
            await r.read()
            return r

    async def records(self, user: SimUser, vehicle_id: str, **params: str) -> Any:
        response = await self.get(
            f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records", user.access_token, **params
        )
        assert response.status == 200, await response.text()
        return await response.json()

    async def token(self, **form: str) -> aiohttp.ClientResponse:
        async with self.http.post(
            f"{self.sim.url}/oauth/token", data=form, headers=self.basic
        ) as response:
            await response.read()
            return response

    async def refresh(self, refresh_token: str) -> aiohttp.ClientResponse:
        return await self.token(grant_type="refresh_token", refresh_token=refresh_token)

    async def authorize(self, **params: str) -> dict[str, str]:
        query = {
            "response_type": "code",
            "client_id": self.sim.options.client_id,
            "redirect_uri": REDIRECT,
            "scope": "read_charge_records read_vehicle_info",
            "mode": "simulated",
            **params,
        }
        async with self.http.get(
            f"{self.sim.url}/oauth/authorize", params=query, allow_redirects=False
        ) as response:
            assert response.status == 302, await response.text()
            location = response.headers["Location"]
        assert location.startswith(REDIRECT + "?")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@asynccontextmanager
async def harness(opts: SimulatorOptions | None = None) -> AsyncIterator[Harness]:
    async with run_simulator(opts or options()) as sim, aiohttp.ClientSession() as http:
        yield Harness(sim, http)


def clock_of(sim: Simulator) -> Clock:
    clock = sim.options.clock
    assert isinstance(clock, Clock)
    return clock


def assert_v2_error(body: dict[str, Any], error_type: str, code: str | None) -> None:
    assert body.keys() >= V2_FIELDS
    assert (body["type"], body["code"]) == (error_type, code)
    assert body["statusCode"] == ERROR_TYPES[error_type].status


async def raw_get(url: str, path: str, token: str) -> bytes:
    host, port = urlsplit(url).hostname, urlsplit(url).port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def record_day(record: dict[str, Any], sim: Simulator, vehicle_id: str) -> date:
    zone = ZoneInfo(sim.profile(vehicle_id).timezone)
    value = record["date"]
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(zone).date()
    return datetime.fromtimestamp(value, zone).date()


async def test_connect_then_token_then_vehicles_and_records() -> None:
    async with harness() as h:
        answer = await h.authorize(state="s t&ate=1", sim_vehicles="2")
        assert answer["state"] == "s t&ate=1"
        response = await h.token(
            grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
        )
        assert response.status == 200
        tokens = await response.json()
        assert tokens.keys() == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert (tokens["token_type"], tokens["expires_in"]) == ("Bearer", 7200)
        access = tokens["access_token"]
        vehicles = await (await h.get("/v2.0/vehicles", access)).json()
        assert vehicles["paging"] == {"count": 2, "offset": 0}
        user = await (await h.get("/v2.0/user", access)).json()
        assert set(vehicles["vehicles"]) == set(h.sim.accounts.users[user["id"]].vehicle_ids)
        vehicle_id = vehicles["vehicles"][0]
        info = await (await h.get(f"/v2.0/vehicles/{vehicle_id}", access)).json()
        assert info["make"] == "TESLA"
        response = await h.get(f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records", access)
        assert response.status == 200
        assert response.headers["SC-Unit-System"] == "metric"
        assert {"SC-Request-Id", "SC-Fetched-At", "SC-Data-Age"} <= response.headers.keys()
        body = await response.json()
        # A new connection reads from the day access was granted: today only.
        assert len(body["records"]) == 1
        assert record_day(body["records"][0], h.sim, vehicle_id) == h.sim.profile(vehicle_id).today(
            h.sim.now()
        )
        # The code is single-use.
        again = await h.token(
            grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
        )
        assert again.status == 400
        assert (await again.json())["error"] == "invalid_grant"


async def test_connect_errors_reuse_and_code_expiry() -> None:
    async with harness() as h:
        for error in ("access_denied", "vehicle_incompatible", "no_vehicles"):
            answer = await h.authorize(state="xyz", sim_error=error)
            assert answer.keys() == {"error", "error_description", "state"}
            assert (answer["error"], answer["state"]) == (error, "xyz")
        async with h.http.get(
            f"{h.sim.url}/oauth/authorize",
            params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
            allow_redirects=False,
        ) as response:
            assert response.status == 400
            assert response.content_type == "text/html"
        first = await h.authorize(sim_vehicles="3")
        tokens = await (
            await h.token(
                grant_type="authorization_code", code=first["code"], redirect_uri=REDIRECT
            )
        ).json()
        user_id = (await (await h.get("/v2.0/user", tokens["access_token"])).json())["id"]
        vehicles = h.sim.user(user_id).vehicle_ids
        assert len(vehicles) == 3
        again = await h.authorize(sim_user=user_id)
        tokens = await (
            await h.token(
                grant_type="authorization_code", code=again["code"], redirect_uri=REDIRECT
            )
        ).json()
        listed = await (await h.get("/v2.0/vehicles", tokens["access_token"])).json()
        assert tuple(listed["vehicles"]) == vehicles
        late = await h.authorize()
        clock_of(h.sim).advance(minutes=10, seconds=1)
        response = await h.token(
            grant_type="authorization_code", code=late["code"], redirect_uri=REDIRECT
        )
        assert (response.status, (await response.json())["error"]) == (400, "invalid_grant")


async def test_token_endpoint_checks_user_agent_and_client() -> None:
    async with harness() as h:
        user = h.sim.create_user()
        async with (
            aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as bare,
            bare.post(
                f"{h.sim.url}/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
                headers=h.basic,
            ) as response,
        ):
            assert response.status == 400
            assert (await response.json())["error"] == "invalid_request"
        async with h.http.post(
            f"{h.sim.url}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
            headers={"Authorization": aiohttp.encode_basic_auth(h.sim.options.client_id, "no")},
        ) as response:
            assert response.status == 401
        # Neither rejected request used the refresh token up.
        assert (await h.refresh(user.refresh_token)).status == 200


async def test_refresh_rotates_with_a_grace_window() -> None:
    async with harness() as h:
        user = h.sim.create_user()
        first = await (await h.refresh(user.refresh_token)).json()
        assert first["refresh_token"] != user.refresh_token
        assert first["access_token"] != user.access_token
        clock_of(h.sim).advance(seconds=30)
        # Within the grace window the old token answers with the same pair again.
        replay = await (await h.refresh(user.refresh_token)).json()
        assert (replay["access_token"], replay["refresh_token"]) == (
            first["access_token"],
            first["refresh_token"],
        )
        clock_of(h.sim).advance(seconds=31)
        dead = await h.refresh(user.refresh_token)
        assert dead.status == 400
        assert await dead.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid or expired token",
        }
        second = await h.refresh(first["refresh_token"])
        assert second.status == 200
        stats = h.sim.stats()
        assert (stats.refreshes, stats.refresh_reuses, stats.refresh_rejections) == (2, 1, 1)
        # A refresh token unused for 60 days is lost.
        idle = (await second.json())["refresh_token"]
        clock_of(h.sim).advance(days=60)
        assert (await h.refresh(idle)).status == 400


async def test_access_token_expires_on_the_injected_clock() -> None:
    clock = Clock()
    async with harness(options(clock=clock)) as h:
        user = h.sim.create_user()
        assert (await h.get("/v2.0/vehicles", user.access_token)).status == 200
        clock.advance(hours=1, minutes=59)
        assert (await h.get("/v2.0/vehicles", user.access_token)).status == 200
        clock.advance(minutes=1)
        response = await h.get("/v2.0/vehicles", user.access_token)
        assert response.status == 401
        body = await response.json()
        assert_v2_error(body, "AUTHENTICATION", None)
        assert body["requestId"] == response.headers["SC-Request-Id"]
        assert (await h.get("/v2.0/user", "not-a-token")).status == 401


async def test_thirty_day_window_clamps_and_validates() -> None:
    async with harness() as h:
        user = h.sim.create_user(history_days=90)
        vehicle_id = user.vehicle_ids[0]
        today = h.sim.profile(vehicle_id).today(h.sim.now())
        default = (await h.records(user, vehicle_id))["records"]
        days = [record_day(r, h.sim, vehicle_id) for r in default]
        assert days == [today - timedelta(days=29 - n) for n in range(30)]
        old = (await h.records(user, vehicle_id, startDate=str(today - timedelta(days=45))))[
            "records"
        ]
        assert old == default
        window = await h.records(
            user,
            vehicle_id,
            startDate=str(today - timedelta(days=3)),
            endDate=str(today + timedelta(days=5)),
        )
        assert len(window["records"]) == 4
        for params in ({"startDate": "2025/01/01"}, {"startDate": str(today), "endDate": "x"}):
            response = await h.get(
                f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records", user.access_token, **params
            )
            assert response.status == 400
            assert_v2_error(await response.json(), "VALIDATION", "PARAMETER")
    async with harness(options(history_policy="reject")) as h:
        user = h.sim.create_user()
        today = h.sim.profile(user.vehicle_ids[0]).today(h.sim.now())
        response = await h.get(
            f"/v2.0/vehicles/{user.vehicle_ids[0]}/tesla/charge/records",
            user.access_token,
            startDate=str(today - timedelta(days=30)),
        )
        assert response.status == 400


async def test_data_is_deterministic_per_seed() -> None:
    async def read_all(seed: int) -> list[Any]:
        async with harness(options(seed=seed, vehicles=5)) as h:
            out = []
            for user in h.sim.users():
                for vehicle_id in user.vehicle_ids:
                    if h.sim.profile(vehicle_id).capable:
                        out.append((vehicle_id, await h.records(user, vehicle_id)))
            return out

    first, again, other = await read_all(3), await read_all(3), await read_all(4)
    assert first == again
    assert len(first) == 5
    assert {v for v, _ in first}.isdisjoint({v for v, _ in other})
    assert [b for _, b in first] != [b for _, b in other]


async def test_restated_days_change_once_old() -> None:
    async with harness(options(vehicles=4)) as h:
        before = {
            (v, r["date"]): r
            for user in h.sim.users()
            for v in user.vehicle_ids
            for r in (await h.records(user, v))["records"]
        }
        clock_of(h.sim).advance(days=5)
        changed = 0
        for user in h.sim.users():
            # The access tokens have expired by now.
            fresh = await (await h.refresh(user.refresh_token)).json()
            for v in user.vehicle_ids:
                response = await h.get(
                    f"/v2.0/vehicles/{v}/tesla/charge/records", fresh["access_token"]
                )
                for record in (await response.json())["records"]:
                    old = before.get((v, record["date"]))
                    if old is not None and old != record:
                        changed += 1
                        assert record["total"] > old["total"]
        assert changed > 0


async def test_vehicle_traits_not_capable_no_home_and_both_date_forms() -> None:
    async with harness(options(vehicles=8)) as h:
        forms: set[type] = set()
        energy_types: set[type] = set()
        for user in h.sim.users():
            for vehicle_id in user.vehicle_ids:
                profile = h.sim.profile(vehicle_id)
                path = f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records"
                response = await h.get(path, user.access_token)
                if not profile.capable:
                    assert response.status == 501
                    assert_v2_error(await response.json(), "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
                    continue
                for record in (await response.json())["records"]:
                    forms.add(type(record["date"]))
                    energy_types.update(type(record[k]) for k in ("home", "other", "total"))
                    if not profile.has_home:
                        assert record["home"] == 0
        assert forms == {str, int, float}
        assert energy_types == {int, float}
        assert not all(p.has_home for p in h.sim.vehicles.values())


async def test_application_bucket_answers_429_with_retry_after() -> None:
    async with harness(options(rate_burst=3, rate_per_minute=2)) as h:
        user = h.sim.create_user()
        for _ in range(3):
            assert (await h.get("/v2.0/vehicles", user.access_token)).status == 200
        response = await h.get("/v2.0/user", user.access_token)
        assert response.status == 429
        assert response.headers["Retry-After"] == "30"
        assert_v2_error(await response.json(), "RATE_LIMIT", "SMARTCAR_API")
        # The token endpoint does not draw from the bucket.
        assert (await h.refresh(user.refresh_token)).status == 200
        clock_of(h.sim).advance(seconds=30)
        assert (await h.get("/v2.0/user", user.access_token)).status == 200
        assert h.sim.stats().throttles == {"app": 1, "vehicle": 0}


async def test_vehicle_throttle_and_call_timestamps() -> None:
    async with harness(options(vehicle_min_interval_s=60)) as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        path = f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records"
        assert (await h.get(path, user.access_token)).status == 200
        clock_of(h.sim).advance(seconds=20)
        response = await h.get(path, user.access_token)
        assert response.status == 429
        assert response.headers["Retry-After"] == "40"
        assert_v2_error(await response.json(), "RATE_LIMIT", "VEHICLE")
        clock_of(h.sim).advance(seconds=40)
        assert (await h.get(path, user.access_token)).status == 200
        calls = h.sim.record_calls(vehicle_id)
        assert [c.status for c in calls] == [200, 429, 200]
        assert [c.at - START for c in calls] == [
            timedelta(0),
            timedelta(seconds=20),
            timedelta(seconds=60),
        ]
        assert h.sim.stats().throttles == {"app": 0, "vehicle": 1}


async def test_retry_after_in_other_forms() -> None:
    for style in ("epoch_ms", "http_date"):
        async with harness(options(vehicle_min_interval_s=90, retry_after_style=style)) as h:
            user = h.sim.create_user()
            path = f"/v2.0/vehicles/{user.vehicle_ids[0]}/tesla/charge/records"
            await h.get(path, user.access_token)
            value = (await h.get(path, user.access_token)).headers["Retry-After"]
            at = (
                datetime.fromtimestamp(int(value) / 1000, UTC)
                if style == "epoch_ms"
                else parsedate_to_datetime(value)
            )
            assert at == START + timedelta(seconds=90)


@pytest.mark.parametrize(
    "kind",
    [
        *ERROR_TYPES,
        "RATE_LIMIT:SMARTCAR_API",
        "UPSTREAM:RATE_LIMIT",
        "CONNECTED_SERVICES_ACCOUNT:VIRTUAL_KEY_REQUIRED",
        "html_502",
        "legacy_json",
        "v3_envelope",
    ],
)
async def test_targeted_error_faults(kind: str) -> None:
    async with harness() as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        h.sim.set_fault(vehicle_id, kind, count=1)
        response = await h.get(
            f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records", user.access_token
        )
        if kind == "html_502":
            assert (response.status, response.content_type) == (502, "text/html")
        elif kind == "legacy_json":
            body = await response.json()
            assert body.keys() == {"error", "message", "code", "statusCode", "requestId"}
            assert body["requestId"] == response.headers["SC-Request-Id"]
        elif kind == "v3_envelope":
            (error,) = (await response.json())["errors"]
            assert (error["type"], error["code"], error["status"]) == ("SERVER", "INTERNAL", "500")
        else:
            error_type, _, code = kind.partition(":")
            body = await response.json()
            assert body["type"] == error_type
            assert response.status == ERROR_TYPES[error_type].status
            assert code in ("", body["code"])
            if error_type == "RATE_LIMIT":
                assert int(response.headers["Retry-After"]) > 0
        assert sum(h.sim.stats().faults.values()) == 1
        # Once the count is spent (and any Retry-After has passed) the vehicle answers again.
        clock_of(h.sim).advance(seconds=120)
        await h.records(user, vehicle_id)


async def test_timeout_and_reset_faults() -> None:
    async with harness(options(hang_s=30)) as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        path = f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records"
        h.sim.set_fault(vehicle_id, "timeout")
        with pytest.raises(TimeoutError):
            async with h.http.get(
                f"{h.sim.url}{path}",
                headers={"Authorization": f"Bearer {user.access_token}"},
                timeout=aiohttp.ClientTimeout(total=0.3),
            ):
                pass
        h.sim.set_fault(vehicle_id, "reset")
        # A raw socket: aiohttp's client would quietly retry a GET after a disconnect.
        assert await raw_get(h.sim.url, path, user.access_token) == b""
        await h.records(user, vehicle_id)
        await asyncio.sleep(0.05)
        statuses = [c.status for c in h.sim.record_calls(vehicle_id)]
        assert statuses == [NO_ANSWER, NO_ANSWER, 200]


async def test_hanging_request_does_not_hold_up_shutdown() -> None:
    async with aiohttp.ClientSession() as http:
        async with run_simulator(options(hang_s=30)) as sim:
            user = sim.create_user()
            sim.set_fault(user.vehicle_ids[0], "timeout")
            path = f"/v2.0/vehicles/{user.vehicle_ids[0]}/tesla/charge/records"
            hanging = asyncio.create_task(Harness(sim, http).get(path, user.access_token))
            await asyncio.sleep(0.1)
            stopping = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - stopping < 1
        with pytest.raises(aiohttp.ClientConnectionError):
            await hanging


async def test_faults_over_http_and_unknown_kinds() -> None:
    async with harness(options(vehicles=2)) as h:
        vehicle_id = next(iter(h.sim.vehicles))
        user = h.sim.user(h.sim.owners[vehicle_id])
        async with h.http.post(
            f"{h.sim.url}/sim/faults",
            json={"vehicle_id": vehicle_id, "kind": "VEHICLE_STATE:ASLEEP", "count": 2},
        ) as response:
            assert response.status == 201
        for _ in range(2):
            response = await h.get(
                f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records", user.access_token
            )
            assert_v2_error(await response.json(), "VEHICLE_STATE", "ASLEEP")
        await h.records(user, vehicle_id)
        for body, status in (
            ({"kind": "SERVER:ANYTHING_GOES"}, 201),
            ({"kind": "NOPE"}, 400),
            ({"kind": "UPSTREAM:NOPE"}, 400),
            ({"kind": "SERVER", "vehicle_id": "unknown"}, 404),
            ({"kind": "SERVER", "extra": 1}, 400),
        ):
            async with h.http.post(f"{h.sim.url}/sim/faults", json=body) as response:
                assert response.status == status, body
        assert set(SPECIAL_KINDS) == {"html_502", "timeout", "reset", "legacy_json", "v3_envelope"}


async def test_random_faults_follow_the_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        kinds = ("SERVER:INTERNAL", "UPSTREAM:NO_RESPONSE", "html_502", "VEHICLE_STATE:ASLEEP")
        async with harness(options(seed=seed, fault_rate=0.5, random_faults=kinds)) as h:
            user = h.sim.create_user()
            path = f"/v2.0/vehicles/{user.vehicle_ids[0]}/tesla/charge/records"
            return [(await h.get(path, user.access_token)).status for _ in range(30)]

    first = await statuses(1)
    assert first == await statuses(1)
    assert 200 in first
    assert {500, 502, 409} & set(first)


async def test_token_faults_drop_slow_and_fail() -> None:
    async with harness(options(hang_s=30)) as h:
        user = h.sim.create_user()
        old = user.refresh_token
        h.sim.set_token_fault("drop")
        with pytest.raises(TimeoutError):
            async with h.http.post(
                f"{h.sim.url}/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": old},
                headers=h.basic,
                timeout=aiohttp.ClientTimeout(total=0.3),
            ):
                pass
        # The lost refresh took effect: retrying with the old token inside the grace
        # window returns the pair the client never saw.
        retried = await (await h.refresh(old)).json()
        assert retried["refresh_token"] == h.sim.user(user.user_id).refresh_token
        h.sim.set_token_fault("server_error")
        assert (await h.refresh(retried["refresh_token"])).status == 500
        h.sim.set_token_fault("slow", delay_s=0.2)
        started = asyncio.get_running_loop().time()
        assert (await h.refresh(retried["refresh_token"])).status == 200
        assert asyncio.get_running_loop().time() - started >= 0.2
        stats = h.sim.stats()
        assert (stats.refreshes, stats.refresh_reuses) == (2, 1)
        assert stats.faults == {"token:drop": 1, "token:server_error": 1, "token:slow": 1}


async def test_permissions_revocation_and_unknown_paths() -> None:
    async with harness() as h:
        alice, bob = h.sim.create_user(), h.sim.create_user()
        response = await h.get(
            f"/v2.0/vehicles/{bob.vehicle_ids[0]}/tesla/charge/records", alice.access_token
        )
        assert response.status == 403
        assert_v2_error(await response.json(), "PERMISSION", None)
        narrow = h.sim.create_user(scopes=frozenset({"read_vehicle_info"}))
        response = await h.get(
            f"/v2.0/vehicles/{narrow.vehicle_ids[0]}/tesla/charge/records", narrow.access_token
        )
        assert response.status == 403
        h.sim.revoke_user(alice.user_id)
        assert (await h.get("/v2.0/vehicles", alice.access_token)).status == 401
        assert (await h.refresh(alice.refresh_token)).status == 400
        response = await h.get("/v3/vehicles", bob.access_token)
        assert response.status == 404
        assert_v2_error(await response.json(), "RESOURCE_NOT_FOUND", "VERSION")
        response = await h.get("/v2.0/nothing", bob.access_token)
        assert_v2_error(await response.json(), "RESOURCE_NOT_FOUND", "PATH")


async def test_precreated_users_listed_and_stats_counted() -> None:
    async with harness(options(vehicles=7, latency_ms=40)) as h:
        async with h.http.get(f"{h.sim.url}/sim/users") as response:
            users = (await response.json())["users"]
        assert sum(len(u["vehicle_ids"]) for u in users) == 7
        assert len(users) < 7
        user = h.sim.user(users[0]["user_id"])
        vehicle_id = user.vehicle_ids[0]
        started = asyncio.get_running_loop().time()
        await h.records(user, vehicle_id)
        assert asyncio.get_running_loop().time() - started >= 0.035
        await h.get("/v2.0/vehicles", "bad")
        async with h.http.get(f"{h.sim.url}/sim/stats") as response:
            stats = await response.json()
        assert stats["requests"] == 2
        assert stats["by_endpoint"] == {"charge_records": 1, "vehicles": 1}
        assert stats["by_status"] == {"200": 1, "401": 1}
        assert stats["by_vehicle"] == {vehicle_id: 1}
        assert [c["status"] for c in stats["record_calls"][vehicle_id]] == [200]
        async with h.http.post(f"{h.sim.url}/sim/users", json={"vehicles": 2}) as response:
            assert response.status == 201
            created = await response.json()
        await h.records(h.sim.user(created["user_id"]), created["vehicle_ids"][1])
        async with h.http.post(f"{h.sim.url}/sim/clock", json={"advance_s": 7200}) as response:
            assert response.status == 200
        assert (await h.get("/v2.0/user", created["access_token"])).status == 401
