from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from aioresponses.compat import normalize_url
from pydantic import SecretStr
from yarl import URL

from billing.config import ConfigError, Settings
from billing.smartcar import client as client_module
from billing.smartcar.client import SmartcarClient
from billing.smartcar.errors import SmartcarError

API = "https://api.test"
AUTH = "https://auth.test"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORDS_BODY = {
    "records": [
        {"date": 1772265600, "home": 12.4, "other": 0, "superCharger": 0.1, "total": 12.5},
    ]
}
TOKEN_BODY = {
    "access_token": "acc-new-123",
    "token_type": "Bearer",
    "expires_in": 7200,
    "refresh_token": "ref-new-456",
}


def records_url(vehicle_id: str, query: str = "") -> str:
    return f"{API}/v2.0/vehicles/{vehicle_id}/tesla/charge/records{query}"


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without the `stream_writer` aiohttp 3.14 requires."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class Mocked(aioresponses):
    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatResponse)
        super().add(*args, **kwargs)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with Mocked() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def make_client(session: aiohttp.ClientSession, **overrides: Any) -> SmartcarClient:
    options: dict[str, Any] = {
        "api_url": API + "/",
        "auth_url": AUTH,
        "client_id": "cid",
        "client_secret": SecretStr("csecret"),
        "redirect_uri": "https://app.test/callback",
        "timeout_s": 5,
        "concurrency": 4,
        **overrides,
    }
    return SmartcarClient(session, **options)


@pytest.fixture
def smartcar(session: aiohttp.ClientSession) -> SmartcarClient:
    return make_client(session)


def calls(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return list(mocked.requests[(method, normalize_url(URL(url)))])


# Charge records


async def test_charge_records(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    url = records_url("veh-1", "?startDate=2026-02-01&endDate=2026-03-01")
    headers = {"SC-Request-Id": "req-1", "SC-Unit-System": "metric", "SC-Data-Age": "age"}
    mocked.get(url, body=json.dumps(RECORDS_BODY), headers=headers)
    result = await smartcar.charge_records(
        "veh-1", "tok-1", start=date(2026, 2, 1), end=date(2026, 3, 1), now=NOW
    )
    (record,) = result.records
    assert record.home_kwh == Decimal("12.4")
    assert record.supercharger_kwh == Decimal("0.1")
    assert (result.request_id, result.unit_system, result.data_age) == ("req-1", "metric", "age")
    assert result.fetched_at == NOW
    (call,) = calls(mocked, "GET", url)
    sent = call.kwargs["headers"]
    assert sent["Authorization"] == "Bearer tok-1"
    assert sent["User-Agent"].startswith("fleet-billing/")
    assert sent["Accept"] == "application/json"
    assert call.kwargs["allow_redirects"] is False
    assert call.kwargs["timeout"].total == 5


async def test_charge_records_omits_missing_dates(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    mocked.get(records_url("veh-1"), body=b'{"records": []}')
    mocked.get(records_url("veh-2", "?endDate=2026-03-01"), body=b'{"records": []}')
    await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    await smartcar.charge_records("veh-2", "t", start=None, end=date(2026, 3, 1), now=NOW)
    assert calls(mocked, "GET", records_url("veh-1"))
    assert calls(mocked, "GET", records_url("veh-2", "?endDate=2026-03-01"))


async def test_vehicle_id_is_one_path_segment(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    mocked.get(re.compile(r".*"), body=b'{"records": []}')
    await smartcar.charge_records("../user?x", "t", start=None, end=None, now=NOW)
    ((_, url),) = mocked.requests
    assert url.raw_path == "/v2.0/vehicles/..%2Fuser%3Fx/tesla/charge/records"
    with pytest.raises(ValueError, match="vehicle_id"):
        await smartcar.charge_records("", "t", start=None, end=None, now=NOW)


async def test_each_request_carries_its_own_token(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    for vehicle in ("veh-a", "veh-b"):
        mocked.get(records_url(vehicle), body=b'{"records": []}', repeat=True)
    await asyncio.gather(
        *(
            smartcar.charge_records(vehicle, f"token-{vehicle}", start=None, end=None, now=NOW)
            for vehicle in ("veh-a", "veh-b", "veh-a", "veh-b")
        )
    )
    for vehicle in ("veh-a", "veh-b"):
        sent = calls(mocked, "GET", records_url(vehicle))
        assert len(sent) == 2
        assert {c.kwargs["headers"]["Authorization"] for c in sent} == {f"Bearer token-{vehicle}"}
    all_headers = [c.kwargs["headers"] for cs in mocked.requests.values() for c in cs]
    assert len({id(h) for h in all_headers}) == len(all_headers)


async def test_upstream_error_becomes_typed(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    body = {
        "type": "RATE_LIMIT",
        "code": "VEHICLE",
        "description": "Too many requests",
        "statusCode": 429,
        "requestId": None,
        "resolution": {"type": "RETRY_LATER"},
    }
    mocked.get(
        records_url("veh-1"),
        status=429,
        body=json.dumps(body),
        headers={"Retry-After": "120", "SC-Request-Id": "req-9"},
    )
    with pytest.raises(SmartcarError) as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    error = info.value
    assert (error.type, error.code, error.status, error.request_id) == (
        "RATE_LIMIT",
        "VEHICLE",
        429,
        "req-9",
    )
    assert (error.retry_after_s, error.advice, error.outcome) == (
        120.0,
        "vehicle_throttled",
        "retry_later",
    )


VEHICLE_THROTTLE_BODIES = {
    # the official SDKs' own fixture spells the code "Vehicle"
    "v2 as the SDK fixture": {"type": "RATE_LIMIT", "code": "Vehicle", "statusCode": 429},
    "v2 lower case": {"type": "rate_limit", "code": "vehicle", "statusCode": 429},
    "v3 envelope": {"errors": [{"type": "RATE_LIMIT", "code": "VEHICLE", "status": "429"}]},
    "v3 envelope, SDK case": {
        "errors": [{"type": "Rate_Limit", "code": "Vehicle", "status": "429"}]
    },
}


@pytest.mark.parametrize("body", VEHICLE_THROTTLE_BODIES.values(), ids=VEHICLE_THROTTLE_BODIES)
async def test_a_vehicle_throttle_in_any_case_or_envelope_stays_a_vehicle_throttle(
    mocked: aioresponses, smartcar: SmartcarClient, body: dict[str, Any]
) -> None:
    mocked.get(
        records_url("veh-1"), status=429, body=json.dumps(body), headers={"Retry-After": "120"}
    )
    with pytest.raises(SmartcarError) as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    error = info.value
    # Not "app_throttled": that would drain the budget every process shares.
    assert (error.type, error.code, error.advice) == ("RATE_LIMIT", "VEHICLE", "vehicle_throttled")
    assert error.retry_after_s == 120.0


@pytest.mark.parametrize(
    ("status", "body", "advice"),
    [
        (401, b'{"type": "AUTHENTICATION", "code": null}', "refresh_token"),
        (430, b'{"type": "BILLING", "code": "VEHICLE_REQUEST_LIMIT"}', "plan_limit"),
        (501, b'{"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}', "not_capable"),
        (502, b"<html><title>Bad Gateway</title></html>", "retry_later"),
        (302, b"", "our_bug"),
    ],
)
async def test_statuses_through_the_client(
    mocked: aioresponses, smartcar: SmartcarClient, status: int, body: bytes, advice: str
) -> None:
    mocked.get(records_url("veh-1"), status=status, body=body)
    with pytest.raises(SmartcarError) as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    assert (info.value.status, info.value.advice) == (status, advice)


async def test_bad_records_payload(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    body = b'{"records": [{"date": 1772265600, "home": -1.5, "other": 0, "superCharger": 0}]}'
    mocked.get(records_url("veh-1"), body=body, headers={"SC-Request-Id": "req-3"})
    with pytest.raises(SmartcarError) as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    assert info.value.description == "records[0].home: -1.5 is negative"
    assert (info.value.advice, info.value.request_id) == ("bad_payload", "req-3")


async def test_oversized_response(
    mocked: aioresponses, smartcar: SmartcarClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_RESPONSE_BYTES", 100)
    mocked.get(records_url("veh-1"), body=b" " * 101)
    with pytest.raises(SmartcarError, match="larger than 100 bytes") as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    assert info.value.advice == "bad_payload"


# Transport failures


@pytest.mark.parametrize(
    ("exception", "type_", "code"),
    [
        (TimeoutError(), "TIMEOUT", None),
        (aiohttp.ServerTimeoutError("read timed out"), "TIMEOUT", None),
        (ConnectionResetError(104, "Connection reset by peer"), "NETWORK", "IO"),
        (aiohttp.ServerDisconnectedError(), "NETWORK", "IO"),
        (aiohttp.ClientPayloadError("truncated"), "NETWORK", "IO"),
        (
            aiohttp.ClientConnectorError(
                aiohttp.client_reqrep.ConnectionKey("api.test", 443, True, True, None, None, None),
                OSError(111, "Connection refused"),
            ),
            "NETWORK",
            "CONNECT",
        ),
    ],
)
async def test_transport_failures(
    mocked: aioresponses,
    smartcar: SmartcarClient,
    exception: BaseException,
    type_: str,
    code: str | None,
) -> None:
    mocked.get(records_url("veh-1"), exception=exception)
    with pytest.raises(SmartcarError) as info:
        await smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW)
    error = info.value
    assert (error.type, error.code, error.status, error.request_id) == (type_, code, None, None)
    assert (error.advice, error.outcome) == ("retry_later", "retry_later")
    assert error.outcome_unknown is (code != "CONNECT")


async def test_concurrency_is_bounded(mocked: aioresponses, session: aiohttp.ClientSession) -> None:
    smartcar = make_client(session, concurrency=2)
    in_flight = 0
    peak = 0

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return CallbackResult(body=b'{"records": []}', response_class=CompatResponse)

    mocked.get(records_url("veh-1"), callback=slow, repeat=True)
    await asyncio.gather(
        *(smartcar.charge_records("veh-1", "t", start=None, end=None, now=NOW) for _ in range(6))
    )
    assert peak == 2


# Tokens


async def test_refresh(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    mocked.post(f"{AUTH}/oauth/token", body=json.dumps(TOKEN_BODY))
    grant = await smartcar.refresh("ref-old-789", now=NOW)
    assert grant.access_token.get_secret_value() == "acc-new-123"
    assert grant.refresh_token.get_secret_value() == "ref-new-456"
    assert grant.access_expires_at == NOW + timedelta(hours=2)
    assert grant.received_at == NOW
    for text in (repr(grant), str(grant)):
        assert "acc-new" not in text
        assert "ref-new" not in text
    (call,) = calls(mocked, "POST", f"{AUTH}/oauth/token")
    assert call.kwargs["data"] == {"grant_type": "refresh_token", "refresh_token": "ref-old-789"}
    assert call.kwargs["headers"]["Authorization"] == "Basic " + base64.b64encode(
        b"cid:csecret"
    ).decode("ascii")
    assert call.kwargs["headers"]["User-Agent"].startswith("fleet-billing/")


async def test_exchange_code(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    mocked.post(f"{AUTH}/oauth/token", body=json.dumps(TOKEN_BODY))
    grant = await smartcar.exchange_code("code-1", now=NOW)
    assert grant.refresh_token.get_secret_value() == "ref-new-456"
    (call,) = calls(mocked, "POST", f"{AUTH}/oauth/token")
    assert call.kwargs["data"] == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "https://app.test/callback",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"refresh_token": "r", "expires_in": 7200}, "access_token: expected a non-empty string"),
        ({"access_token": "a", "expires_in": 7200}, "refresh_token: expected a non-empty string"),
        ({"access_token": "a", "refresh_token": ""}, "refresh_token: expected a non-empty string"),
        ({"access_token": "a", "refresh_token": "r"}, "expires_in: expected a positive whole"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": True}, "expires_in"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": 1.5}, "expires_in"),
        ({"access_token": "a", "refresh_token": "r", "expires_in": -1}, "expires_in"),
        (
            {"access_token": "a", "refresh_token": "r", "expires_in": 1, "token_type": "MAC"},
            "token_type: expected 'Bearer'",
        ),
    ],
)
async def test_token_response_is_validated(
    mocked: aioresponses, smartcar: SmartcarClient, body: dict[str, Any], message: str
) -> None:
    mocked.post(f"{AUTH}/oauth/token", body=json.dumps(body))
    with pytest.raises(SmartcarError) as info:
        await smartcar.refresh("ref-old", now=NOW)
    assert (info.value.type, info.value.advice) == ("INVALID_PAYLOAD", "bad_payload")
    assert message in info.value.description
    assert "ref-old" not in str(info.value)


async def test_token_response_not_json(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    mocked.post(f"{AUTH}/oauth/token", body=b"<html></html>")
    with pytest.raises(SmartcarError, match="not JSON") as info:
        await smartcar.refresh("r", now=NOW)
    assert info.value.advice == "bad_payload"


async def test_rejected_refresh(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    body = {"error": "invalid_grant", "error_description": "Invalid or expired token"}
    mocked.post(f"{AUTH}/oauth/token", status=400, body=json.dumps(body))
    with pytest.raises(SmartcarError) as info:
        await smartcar.refresh("r", now=NOW)
    assert (info.value.type, info.value.code, info.value.advice) == (
        "OAUTH",
        "invalid_grant",
        "needs_reauth",
    )


async def test_token_endpoint_authentication_error_is_not_retried_by_refreshing(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    mocked.post(f"{AUTH}/oauth/token", status=401, body=b'{"type": "AUTHENTICATION"}')
    with pytest.raises(SmartcarError) as info:
        await smartcar.refresh("r", now=NOW)
    assert (info.value.type, info.value.advice) == ("AUTHENTICATION", "needs_reauth")


async def test_token_timeout_is_distinguishable(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    mocked.post(f"{AUTH}/oauth/token", exception=TimeoutError())
    with pytest.raises(SmartcarError) as info:
        await smartcar.refresh("r", now=NOW)
    assert (info.value.type, info.value.status, info.value.advice) == (
        "TIMEOUT",
        None,
        "retry_later",
    )
    assert info.value.outcome_unknown


async def test_token_calls_need_credentials(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="CLIENT_ID"):
        await make_client(session, client_id=None).refresh("r", now=NOW)
    with pytest.raises(ConfigError, match="REDIRECT_URI"):
        await make_client(session, redirect_uri=None).exchange_code("c", now=NOW)


# Vehicles and user


async def test_vehicle_ids_follows_paging(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    first = {"vehicles": ["v1", "v2"], "paging": {"count": 3, "offset": 0}}
    second = {"vehicles": ["v3"], "paging": {"count": 3, "offset": 2}}
    mocked.get(f"{API}/v2.0/vehicles?limit=50&offset=0", body=json.dumps(first))
    mocked.get(f"{API}/v2.0/vehicles?limit=50&offset=2", body=json.dumps(second))
    assert await smartcar.vehicle_ids("tok") == ["v1", "v2", "v3"]


async def test_vehicle_ids_without_paging(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    mocked.get(f"{API}/v2.0/vehicles?limit=50&offset=0", body=b'{"vehicles": ["v1"]}')
    assert await smartcar.vehicle_ids("tok", now=NOW) == ["v1"]


async def test_vehicle_ids_stops_on_an_empty_page(
    mocked: aioresponses, smartcar: SmartcarClient
) -> None:
    body = {"vehicles": [], "paging": {"count": 5, "offset": 0}}
    mocked.get(f"{API}/v2.0/vehicles?limit=50&offset=0", body=json.dumps(body))
    assert await smartcar.vehicle_ids("tok") == []


@pytest.mark.parametrize("body", [b'{"vehicles": [1]}', b'{"paging": {}}', b"[]"])
async def test_vehicle_ids_bad_payload(
    mocked: aioresponses, smartcar: SmartcarClient, body: bytes
) -> None:
    mocked.get(f"{API}/v2.0/vehicles?limit=50&offset=0", body=body)
    with pytest.raises(SmartcarError) as info:
        await smartcar.vehicle_ids("tok")
    assert info.value.advice == "bad_payload"


async def test_user_id(mocked: aioresponses, smartcar: SmartcarClient) -> None:
    mocked.get(f"{API}/v2.0/user", body=b'{"id": "user-1"}')
    mocked.get(f"{API}/v2.0/user", body=b'{"id": null}')
    mocked.get(f"{API}/v2.0/user", status=403, body=b'{"type": "PERMISSION"}')
    assert await smartcar.user_id("tok") == "user-1"
    with pytest.raises(SmartcarError, match="id: expected a non-empty string"):
        await smartcar.user_id("tok")
    with pytest.raises(SmartcarError) as info:
        await smartcar.user_id("tok")
    assert info.value.advice == "needs_reauth"


# Construction and logging


async def test_from_settings(mocked: aioresponses, session: aiohttp.ClientSession) -> None:
    settings = Settings(
        smartcar_client_id="cid",
        smartcar_client_secret=SecretStr("csecret"),
        smartcar_api_url="http://127.0.0.1:9999",
        smartcar_auth_url="http://127.0.0.1:9998/",
        smartcar_redirect_uri="http://localhost/cb",
    )
    smartcar = SmartcarClient.from_settings(session, settings)
    mocked.get("http://127.0.0.1:9999/v2.0/user", body=b'{"id": "u"}')
    mocked.post("http://127.0.0.1:9998/oauth/token", body=json.dumps(TOKEN_BODY))
    assert await smartcar.user_id("tok") == "u"
    await smartcar.exchange_code("c", now=NOW)
    (call,) = calls(mocked, "POST", "http://127.0.0.1:9998/oauth/token")
    assert call.kwargs["data"]["redirect_uri"] == "http://localhost/cb"


@pytest.mark.parametrize(("option", "value"), [("concurrency", 0), ("timeout_s", 0)])
async def test_constructor_checks(session: aiohttp.ClientSession, option: str, value: int) -> None:
    with pytest.raises(ValueError, match=option):
        make_client(session, **{option: value})


async def test_tokens_never_reach_the_log(
    mocked: aioresponses, smartcar: SmartcarClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.get(records_url("veh-1"), body=json.dumps(RECORDS_BODY), headers={"SC-Request-Id": "r1"})
    mocked.get(records_url("veh-1"), status=401, body=b'{"type": "AUTHENTICATION"}')
    mocked.get(records_url("veh-1"), exception=ConnectionResetError())
    mocked.post(f"{AUTH}/oauth/token", body=json.dumps(TOKEN_BODY))
    mocked.post(f"{AUTH}/oauth/token", exception=TimeoutError())
    for _ in range(3):
        with contextlib.suppress(SmartcarError):
            await smartcar.charge_records("veh-1", "secret-access", start=None, end=None, now=NOW)
    await smartcar.refresh("secret-refresh", now=NOW)
    with pytest.raises(SmartcarError):
        await smartcar.refresh("secret-refresh", now=NOW)

    assert len(caplog.records) == 5
    first = caplog.records[0]
    assert first.getMessage() == "smartcar GET /v2.0/vehicles/veh-1/tesla/charge/records -> 200"
    assert (first.status, first.request_id) == (200, "r1")  # type: ignore[attr-defined]
    assert isinstance(first.duration_ms, float)  # type: ignore[attr-defined]
    assert [r.levelno for r in caplog.records] == [logging.INFO] + [logging.WARNING] * 2 + [
        logging.INFO,
        logging.WARNING,
    ]
    dumped = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for secret in ("secret-access", "secret-refresh", "acc-new", "ref-new", "csecret"):
        assert secret not in dumped
