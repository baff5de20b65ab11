"""Error classification as Smartcar documents it: `type` and `code` compared case-insensitively,
and the v3 envelope `{"errors": [{...}]}` (status as a string) read like a v2 body."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from billing.domain.sync_rules import Advice, Outcome
from billing.smartcar.error_bodies import error_from_response
from billing.smartcar.errors import SmartcarError, classify
from tests.unit.smartcar.test_errors import ERROR_TABLE, NOW, v2_body

Row = tuple[str, int, str | None, Advice, Outcome]
CODED_ROWS = [row for row in ERROR_TABLE if row[2] is not None]
CASES: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "capitalized": str.capitalize,
    "title": str.title,
}
# The shape Smartcar's official SDKs test their throttle handling with.
SDK_FIXTURE = {
    "type": "RATE_LIMIT",
    "code": "Vehicle",
    "description": "You have reached the throttling rate limit for this vehicle.",
    "docURL": "https://smartcar.com/docs/errors/api-errors/rate-limit-errors#vehicle",
    "statusCode": 429,
    "requestId": "5dea93a1-3f79-4246-90c5-4ecb7ee8a0c7",
    "resolution": {"type": "RETRY_LATER"},
    "suggestedUserMessage": None,
}


def v3_body(type_: str, code: str | None, status: int, **extra: Any) -> bytes:
    error = {
        "type": type_,
        "code": code,
        "status": str(status),
        "title": f"{type_} title",
        "description": f"{type_} happened",
        "docURL": "https://smartcar.com/docs/errors",
        "requestId": "req-body",
        "resolution": {"type": "RETRY_LATER", "url": None},
        "suggestedUserMessage": None,
        **extra,
    }
    return json.dumps({"errors": [error]}).encode()


def summary(error: SmartcarError) -> tuple[Any, ...]:
    return (
        error.type,
        error.code,
        error.status,
        error.advice,
        error.outcome,
        error.retry_after_s,
        error.request_id,
        error.description,
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("type_", "status", "code", "advice", "outcome"), CODED_ROWS)
def test_code_case_never_changes_what_to_do(
    type_: str, status: int, code: str, advice: Advice, outcome: Outcome, case: str
) -> None:
    headers = {"Retry-After": "90"}
    canonical = error_from_response(status, headers, v2_body(type_, code, status), now=NOW)
    variant = CASES[case]
    error = error_from_response(
        status, headers, v2_body(variant(type_), variant(code), status), now=NOW
    )
    assert (error.advice, error.outcome) == (advice, outcome)
    assert (error.type, error.code) == (type_, code)
    assert error.retry_after_s == canonical.retry_after_s


def test_the_sdk_fixture_is_a_vehicle_throttle_not_an_application_one() -> None:
    error = error_from_response(
        429, {"Retry-After": "30"}, json.dumps(SDK_FIXTURE).encode(), now=NOW
    )
    assert (error.type, error.code) == ("RATE_LIMIT", "VEHICLE")
    assert error.advice == "vehicle_throttled"
    assert error.retry_after_s == 30.0
    assert error.request_id == SDK_FIXTURE["requestId"]


@pytest.mark.parametrize(("type_", "status", "code", "advice", "outcome"), ERROR_TABLE)
def test_v3_envelope_means_what_v2_means(
    type_: str, status: int, code: str | None, advice: Advice, outcome: Outcome
) -> None:
    headers = {"Retry-After": "45"}
    v2 = error_from_response(status, headers, v2_body(type_, code, status), now=NOW)
    v3 = error_from_response(status, headers, v3_body(type_, code, status), now=NOW)
    assert summary(v3) == summary(v2)
    assert (v3.advice, v3.outcome) == (advice, outcome)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("type_", "status", "code", "advice", "outcome"), CODED_ROWS)
def test_v3_envelope_compares_case_insensitively(
    type_: str, status: int, code: str, advice: Advice, outcome: Outcome, case: str
) -> None:
    variant = CASES[case]
    error = error_from_response(status, {}, v3_body(variant(type_), variant(code), status), now=NOW)
    assert (error.type, error.code, error.advice, error.outcome) == (type_, code, advice, outcome)


def test_v3_envelope_without_a_type_falls_back_on_its_status() -> None:
    body = json.dumps({"errors": [{"status": "429", "code": "Vehicle", "detail": "slow down"}]})
    error = error_from_response(429, {}, body.encode(), now=NOW)
    assert (error.code, error.advice, error.description) == (
        "VEHICLE",
        "app_throttled",
        "slow down",
    )


@pytest.mark.parametrize(
    ("type_", "code", "status", "advice"),
    [
        ("rate_limit", "vehicle", 429, "vehicle_throttled"),
        ("Rate_Limit", "Smartcar_Api", 429, "app_throttled"),
        ("compatibility", "platform_not_capable", 501, "needs_reauth"),
        ("compatibility", "Vehicle_Not_Capable", 501, "not_capable"),
        ("oauth", "Invalid_Client", 401, "our_bug"),
        ("oauth", "TEMPORARILY_UNAVAILABLE", 400, "retry_later"),
        ("timeout", None, None, "retry_later"),
    ],
)
def test_classify_ignores_case(
    type_: str, code: str | None, status: int | None, advice: Advice
) -> None:
    assert classify(type_, code, status) == advice


def test_a_stored_error_in_another_case_keeps_its_meaning() -> None:
    stored = {"type": "rate_limit", "code": "Vehicle", "status": 429, "retry_after_s": 120}
    error = SmartcarError.from_json(stored)
    assert (error.type, error.code, error.advice) == ("RATE_LIMIT", "VEHICLE", "vehicle_throttled")
    assert error.retry_after_s == 120
    upstream = SmartcarError(type="upstream", code="rate_limit", status=502, description="x")
    assert (upstream.type, upstream.code) == ("UPSTREAM", "RATE_LIMIT")
    oauth = SmartcarError(type="OAUTH", code="invalid_grant", status=400, description="x")
    assert oauth.code == "invalid_grant"  # OAuth error codes are case-sensitive names
