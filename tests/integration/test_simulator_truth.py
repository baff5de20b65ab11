"""The simulator answers as Smartcar documents it, where it once did not: trailing slashes,
`required:` scopes, vehicle paging, error bodies (v2, v3 envelope, v1), ISO dates with a time
of day, UNIX midnights in the vehicle's own zone, and no per-vehicle throttle of its own."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from billing.smartcar_sim import ERROR_TYPES, SimulatorOptions
from tests.integration.test_simulator import (
    REDIRECT,
    Clock,
    assert_v2_error,
    clock_of,
    harness,
    options,
    record_day,
)


def records_path(vehicle_id: str) -> str:
    return f"/v2.0/vehicles/{vehicle_id}/tesla/charge/records"


async def test_every_path_answers_with_a_trailing_slash() -> None:
    async with harness() as h:
        user = h.sim.create_user(2)
        vehicle_id = user.vehicle_ids[0]
        for path in ("/v2.0/vehicles", "/v2.0/user", f"/v2.0/vehicles/{vehicle_id}"):
            bare = await h.get(path, user.access_token)
            slashed = await h.get(path + "/", user.access_token)
            assert (bare.status, slashed.status) == (200, 200), path
        info = await (await h.get(f"/v2.0/vehicles/{vehicle_id}/", user.access_token)).json()
        assert info == {
            "id": vehicle_id,
            "make": "TESLA",
            "model": h.sim.profile(vehicle_id).model,
            "year": h.sim.profile(vehicle_id).year,
        }
        slashed_records = await h.get(records_path(vehicle_id) + "/", user.access_token)
        assert slashed_records.status == 200
        assert await slashed_records.json() == await h.records(user, vehicle_id)
        # Counted under the same endpoint names as the bare paths.
        assert h.sim.stats().by_endpoint == {
            "vehicles": 2,
            "user": 2,
            "vehicle": 3,
            "charge_records": 2,
        }
        response = await h.get("/v2.0/vehicle/", user.access_token)
        assert_v2_error(await response.json(), "RESOURCE_NOT_FOUND", "PATH")


async def test_required_scope_prefix_grants_the_permission() -> None:
    async with harness() as h:
        answer = await h.authorize(scope="required:read_charge_records read_vehicle_info")
        tokens = await (
            await h.token(
                grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
            )
        ).json()
        (vehicle_id,) = (await (await h.get("/v2.0/vehicles", tokens["access_token"])).json())[
            "vehicles"
        ]
        response = await h.get(records_path(vehicle_id), tokens["access_token"])
        assert response.status == 200, await response.text()
        # A permission that was not asked for, with or without the prefix, is still missing.
        answer = await h.authorize(scope="required:read_vehicle_info")
        tokens = await (
            await h.token(
                grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
            )
        ).json()
        (vehicle_id,) = (await (await h.get("/v2.0/vehicles", tokens["access_token"])).json())[
            "vehicles"
        ]
        response = await h.get(records_path(vehicle_id), tokens["access_token"])
        assert_v2_error(await response.json(), "PERMISSION", None)


async def test_vehicles_are_paged_by_limit_and_offset() -> None:
    async with harness() as h:
        user = h.sim.create_user(23)
        ids = list(user.vehicle_ids)

        async def page(**params: str) -> Any:
            response = await h.get("/v2.0/vehicles", user.access_token, **params)
            assert response.status == 200, await response.text()
            return await response.json()

        default = await page()
        assert default == {"vehicles": ids[:10], "paging": {"count": 23, "offset": 0}}
        assert await page(limit="5", offset="20") == {
            "vehicles": ids[20:],
            "paging": {"count": 23, "offset": 20},
        }
        assert (await page(limit="50"))["vehicles"] == ids
        assert (await page(offset="30"))["vehicles"] == []
        walked: list[str] = []
        while len(walked) < 23:
            walked += (await page(limit="7", offset=str(len(walked))))["vehicles"]
        assert walked == ids
        for params in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"limit": "2.5"}):
            response = await h.get("/v2.0/vehicles", user.access_token, **params)
            assert response.status == 400, params
            assert_v2_error(await response.json(), "VALIDATION", "PARAMETER")


async def test_resolution_is_always_an_object_with_a_type() -> None:
    async with harness() as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        seen: list[object] = []
        for _ in range(4):
            for kind in ERROR_TYPES:
                h.sim.set_fault(vehicle_id, kind)
                body = await (await h.get(records_path(vehicle_id), user.access_token)).json()
                assert body["type"] == kind
                seen.append(body["resolution"])
                clock_of(h.sim).advance(seconds=121)  # past a RATE_LIMIT's Retry-After
                assert body["resolution"] == {
                    "type": ERROR_TYPES[kind].resolution,
                    "url": None,
                }, kind
        assert len(seen) == 4 * len(ERROR_TYPES)


@pytest.mark.parametrize(
    "kind",
    [*ERROR_TYPES, "RATE_LIMIT:SMARTCAR_API", "COMPATIBILITY:VEHICLE_NOT_CAPABLE"],
)
async def test_any_error_can_come_in_the_v3_envelope(kind: str) -> None:
    async with harness() as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        h.sim.set_fault(vehicle_id, f"v3:{kind}", retry_after_s=30)
        response = await h.get(records_path(vehicle_id), user.access_token)
        error_type, _, code = kind.partition(":")
        meta = ERROR_TYPES[error_type]
        assert response.status == meta.status
        (error,) = (await response.json())["errors"]
        assert error["type"] == error_type
        assert error["code"] == (code or meta.codes[0])
        assert error["status"] == str(meta.status)
        assert error["requestId"] == response.headers["SC-Request-Id"]
        assert error["resolution"] == {"type": meta.resolution, "url": None}
        if error_type == "RATE_LIMIT":
            assert response.headers["Retry-After"] == "30"
        clock_of(h.sim).advance(seconds=31)
        await h.records(user, vehicle_id)
    with pytest.raises(ValueError, match="v3 envelope"):
        h.sim.set_fault(None, "v3:html_502")


async def test_iso_dates_carry_a_time_of_day_within_the_vehicles_local_day() -> None:
    zones = ("Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati")
    async with harness() as h:
        for zone in zones:
            user = h.sim.create_user(3, timezone=zone)
            (vehicle_id,) = [v for v in user.vehicle_ids if h.sim.profile(v).date_form == "iso"]
            records = (await h.records(user, vehicle_id))["records"]
            assert len(records) == 30
            local = ZoneInfo(zone)
            today = h.sim.profile(vehicle_id).today(h.sim.now())
            for offset, record in enumerate(records):
                value = record["date"]
                assert value.endswith("Z")
                at = datetime.fromisoformat(value)
                assert at.astimezone(local).date() == today - timedelta(days=29 - offset)
                assert at.astimezone(local).time() != time(0), value
                assert at.astimezone(UTC).time() != time(0), value
            assert len({r["date"][11:] for r in records}) > 20, "always the same time of day"


async def test_unix_dates_are_midnight_in_the_vehicles_own_zone() -> None:
    async with harness() as h:
        for zone in ("Europe/Berlin", "America/Los_Angeles", "Australia/Sydney"):
            user = h.sim.create_user(3, timezone=zone)
            local = ZoneInfo(zone)
            unix = [
                v
                for v in user.vehicle_ids
                if h.sim.profile(v).date_form != "iso" and h.sim.profile(v).capable
            ]
            assert unix
            for vehicle_id in unix:
                assert h.sim.profile(vehicle_id).timezone == zone
                records = (await h.records(user, vehicle_id))["records"]
                for record in records:
                    at = datetime.fromtimestamp(record["date"], local)
                    assert at.time() == time(0)
                    assert record_day(record, h.sim, vehicle_id) == at.date()
        # The zone can also be chosen through Connect and over /sim/users.
        answer = await h.authorize(sim_timezone="Asia/Tokyo", sim_vehicles="2")
        tokens = await (
            await h.token(
                grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
            )
        ).json()
        listed = await (await h.get("/v2.0/vehicles", tokens["access_token"])).json()
        assert {h.sim.profile(v).timezone for v in listed["vehicles"]} == {"Asia/Tokyo"}
        async with h.http.post(
            f"{h.sim.url}/sim/users", json={"vehicles": 1, "timezone": "Europe/Vienna"}
        ) as response:
            assert response.status == 201
            (created,) = (await response.json())["vehicle_ids"]
        assert h.sim.profile(created).timezone == "Europe/Vienna"
        async with h.http.post(
            f"{h.sim.url}/sim/users", json={"timezone": "Mars/Olympus"}
        ) as response:
            assert response.status == 400
        async with h.http.get(
            f"{h.sim.url}/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": h.sim.options.client_id,
                "redirect_uri": REDIRECT,
                "sim_timezone": "Mars/Olympus",
            },
            allow_redirects=False,
        ) as response:
            assert response.status == 400


async def test_no_per_vehicle_throttle_unless_configured() -> None:
    clock = Clock()
    async with harness(SimulatorOptions(seed=7, clock=clock)) as h:
        user = h.sim.create_user()
        vehicle_id = user.vehicle_ids[0]
        statuses = [
            (await h.get(records_path(vehicle_id), user.access_token)).status for _ in range(5)
        ]
        assert statuses == [200] * 5
        assert h.sim.stats().throttles == {"app": 0, "vehicle": 0}
        # A Retry-After Smartcar did announce is still kept.
        h.sim.set_fault(vehicle_id, "RATE_LIMIT:VEHICLE", retry_after_s=120)
        assert (await h.get(records_path(vehicle_id), user.access_token)).status == 429
        clock.advance(seconds=60)
        assert (await h.get(records_path(vehicle_id), user.access_token)).status == 429
        clock.advance(seconds=60)
        assert (await h.get(records_path(vehicle_id), user.access_token)).status == 200
    async with harness(options(vehicle_min_interval_s=60)) as h:
        user = h.sim.create_user()
        path = records_path(user.vehicle_ids[0])
        assert (await h.get(path, user.access_token)).status == 200
        assert (await h.get(path, user.access_token)).status == 429


async def test_a_share_of_teslas_is_not_capable() -> None:
    async with harness(options(vehicles=40)) as h:
        incapable = 0
        for user in h.sim.users():
            for vehicle_id in user.vehicle_ids:
                response = await h.get(records_path(vehicle_id), user.access_token)
                if not h.sim.profile(vehicle_id).capable:
                    incapable += 1
                    assert response.status == 501
                    assert_v2_error(await response.json(), "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
                else:
                    assert response.status == 200
        assert incapable == 5
