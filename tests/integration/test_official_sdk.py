"""Smartcar's official Python SDK (`smartcar` on PyPI) against the simulator on a real socket:
an independent check that the simulator speaks Smartcar, from Connect to errors.

The SDK is synchronous (requests), so every call runs in a thread while the simulator keeps
serving on the event loop. It reads its origins from the environment once, when
`smartcar.config` is imported, so the fixture sets them and reloads that module.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import smartcar
import smartcar.config
from smartcar.exception import SmartcarException

from billing.smartcar_sim import ERROR_TYPES, Simulator, SimulatorOptions, run_simulator

REDIRECT = "https://billing.example/v1/connect/callback"
T = TypeVar("T")

pytestmark = [
    # The SDK stamps token expiry with datetime.utcnow(), deprecated from Python 3.12 on;
    # that is the SDK's business, not a defect of the simulator under test.
    pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning"),
]


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    async with run_simulator(SimulatorOptions(seed=5)) as simulator:
        monkeypatch.setenv("SMARTCAR_API_ORIGIN", simulator.url)
        # The SDK posts to this origin as is: it is the token endpoint's full URL.
        monkeypatch.setenv("SMARTCAR_AUTH_ORIGIN", f"{simulator.url}/oauth/token")
        monkeypatch.setenv("SMARTCAR_CONNECT_ORIGIN", simulator.url)
        # requests honours proxy variables; the simulator is on this machine.
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")
        importlib.reload(smartcar.config)
        try:
            yield simulator
        finally:
            monkeypatch.undo()
            importlib.reload(smartcar.config)


async def call(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


async def sdk_error(fn: Callable[..., object], *args: Any) -> SmartcarException:
    with pytest.raises(SmartcarException) as info:
        await call(fn, *args)
    return info.value


def records(vehicle: smartcar.Vehicle, query: str = "") -> Any:
    # A fresh headers dict per call: the SDK's default one is shared and keeps a token.
    return vehicle.request("GET", f"tesla/charge/records{query}", headers={})


def local_day(sim: Simulator, vehicle_id: str, value: int | float | str) -> date:
    zone = ZoneInfo(sim.profile(vehicle_id).timezone)
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(zone).date()
    return datetime.fromtimestamp(value, zone).date()


def connect(client: smartcar.AuthClient, sim: Simulator, vehicles: int) -> dict[str, str]:
    """Connect as the SDK builds it, followed like a browser would (auto-consent)."""
    url = client.get_auth_url(
        ["required:read_charge_records", "read_vehicle_info"],
        {"state": "s-42", "make_bypass": "TESLA", "single_select": {"enabled": False}},
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sim.url}/oauth/authorize"
    query = parse_qs(parts.query)
    assert query["scope"] == ["required:read_charge_records read_vehicle_info"]
    assert (query["mode"], query["redirect_uri"]) == (["simulated"], [REDIRECT])
    # How many cars the simulated owner has and since when: the simulator's own knobs.
    answer = requests.get(
        f"{url}&sim_vehicles={vehicles}&sim_history_days=45", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_the_official_sdk_from_connect_to_errors(sim: Simulator) -> None:
    options = sim.options
    client = smartcar.AuthClient(
        options.client_id, options.client_secret, REDIRECT, mode="simulated"
    )

    # Connect, then the code exchange.
    redirect = await call(connect, client, sim, 9)
    assert redirect["state"] == "s-42"
    access = await call(client.exchange_code, redirect["code"])
    assert (access.token_type, access.expires_in) == ("Bearer", 7200)
    token = access.access_token
    assert sim.stats().code_exchanges == 1
    again = await sdk_error(client.exchange_code, redirect["code"])
    assert (again.type, again.status_code) == ("invalid_grant", 400)

    # Vehicles (default page, then limit/offset), the user, attributes.
    listed = await call(smartcar.get_vehicles, token)
    user_id = (await call(smartcar.get_user, token)).id
    ids = list(sim.accounts.users[user_id].vehicle_ids)
    assert listed.vehicles == ids
    assert (listed.paging.count, listed.paging.offset) == (9, 0)
    page = await call(smartcar.get_vehicles, token, {"limit": 4, "offset": 4})
    assert page.vehicles == ids[4:8]
    assert (page.paging.count, page.paging.offset) == (9, 4)
    readable = [v for v in ids if sim.profile(v).capable]
    vehicle_id = readable[0]
    vehicle = smartcar.Vehicle(vehicle_id, token)
    attributes = await call(vehicle.attributes)  # GET /v2.0/vehicles/{id}/ (trailing slash)
    profile = sim.profile(vehicle_id)
    assert (attributes.id, attributes.make, attributes.model, attributes.year) == (
        vehicle_id,
        "TESLA",
        profile.model,
        profile.year,
    )
    assert attributes.meta.request_id

    # Charge records without dates (the last 30 days), then with dates, for every date form.
    forms = set()
    for each in readable[:3]:
        car = smartcar.Vehicle(each, token)
        today = sim.profile(each).today(sim.now())
        default = await call(records, car)
        assert default.meta.request_id
        assert default.meta.unit_system == "metric"
        days = [local_day(sim, each, r["date"]) for r in default.body["records"]]
        assert days == [today - timedelta(days=29 - n) for n in range(30)]
        for record, day in zip(default.body["records"], days, strict=True):
            truth = sim.day_energy(each, day)
            assert (record["home"], record["other"], record["superCharger"]) == (
                truth.home,
                truth.other,
                truth.super_charger,
            )
        forms.add(sim.profile(each).date_form)
        start, end = today - timedelta(days=6), today - timedelta(days=2)
        window = await call(records, car, f"?startDate={start}&endDate={end}")
        assert [local_day(sim, each, r["date"]) for r in window.body["records"]] == [
            start + timedelta(days=n) for n in range(5)
        ]
        assert window.body["records"] == default.body["records"][23:28]
    assert forms == {"iso", "unix_int", "unix_float"}

    # Refresh rotates; the old refresh token dies after the grace window.
    fresh = await call(client.exchange_refresh_token, access.refresh_token)
    assert fresh.refresh_token != access.refresh_token
    assert fresh.access_token != token
    vehicle = smartcar.Vehicle(vehicle_id, fresh.access_token)
    assert (await call(records, vehicle)).body["records"]
    sim.advance(options.refresh_grace_s + 1)
    dead = await sdk_error(client.exchange_refresh_token, access.refresh_token)
    assert (dead.type, dead.status_code, dead.message) == (
        "invalid_grant",
        400,
        "Invalid or expired token",
    )

    # One error of each type, as the SDK reads a v2 error.
    for kind in [*ERROR_TYPES, "RATE_LIMIT:SMARTCAR_API"]:
        error_type, _, code = kind.partition(":")
        meta = ERROR_TYPES[error_type]
        expected_code = code or meta.codes[0]
        sim.set_fault(vehicle_id, kind, retry_after_s=30)
        error = await sdk_error(records, vehicle)
        assert (error.type, error.code, error.status_code) == (
            error_type,
            expected_code,
            meta.status,
        ), kind
        assert error.request_id
        assert error.description == meta.description
        assert error.doc_url.startswith("https://smartcar.com/docs/errors/")
        assert error.resolution == {"type": meta.resolution, "url": None}
        assert error.suggested_user_message == meta.user_message
        label = f"{error_type}:{expected_code}" if expected_code else error_type
        assert error.message == f"{label} - {meta.description}"
        if error_type == "RATE_LIMIT":
            assert error.retry_after == "30"
        sim.advance(31)

    # The same errors arising on their own, not injected.
    stranger = smartcar.Vehicle(sim.create_user().vehicle_ids[0], fresh.access_token)
    error = await sdk_error(records, stranger)
    assert (error.type, error.status_code) == ("PERMISSION", 403)
    error = await sdk_error(records, vehicle, "?startDate=yesterday")
    assert (error.type, error.code, error.status_code) == ("VALIDATION", "PARAMETER", 400)
    assert error.detail == [{"field": "startDate", "message": "startDate must be YYYY-MM-DD."}]
    error = await sdk_error(vehicle.request, "GET", "tesla/nothing", {}, {})
    assert (error.type, error.code, error.status_code) == ("RESOURCE_NOT_FOUND", "PATH", 404)
    incapable = next(v for v in ids if not sim.profile(v).capable)
    error = await sdk_error(records, smartcar.Vehicle(incapable, fresh.access_token))
    assert (error.type, error.code, error.status_code) == (
        "COMPATIBILITY",
        "VEHICLE_NOT_CAPABLE",
        501,
    )

    # Older and newer shapes: the SDK reads v1.0 bodies; the v3 envelope and a gateway page
    # are errors it cannot parse on a v2 call.
    sim.set_fault(vehicle_id, "legacy_json")
    error = await sdk_error(records, vehicle)
    assert (error.type, error.code, error.status_code) == ("vehicle_state_error", "VS_000", 409)
    assert (error.message, bool(error.request_id)) == ("Vehicle is asleep.", True)
    sim.set_fault(vehicle_id, "v3:VEHICLE_STATE:ASLEEP")
    error = await sdk_error(records, vehicle)
    assert error.type == "SDK_ERROR"
    assert '"errors"' in error.message
    assert error.request_id
    sim.set_fault(vehicle_id, "html_502")
    error = await sdk_error(records, vehicle)
    assert error.status_code == 502
    assert "502 Bad Gateway" in error.message

    # An access token past its two hours is an AUTHENTICATION error.
    sim.advance(7200)
    error = await sdk_error(records, vehicle)
    assert (error.type, error.code, error.status_code) == ("AUTHENTICATION", None, 401)
    assert sim.stats().throttles == {"app": 1, "vehicle": 1}
