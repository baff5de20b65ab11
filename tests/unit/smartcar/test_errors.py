from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, get_args

import pytest

from billing.domain.sync_rules import Advice, Outcome, outcome_for
from billing.smartcar.error_bodies import error_from_response, parse_retry_after
from billing.smartcar.errors import (
    MAX_RETRY_AFTER_S,
    SmartcarError,
    classify,
    get_header,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def v2_body(type_: str, code: str | None, status: int, **extra: Any) -> bytes:
    body = {
        "type": type_,
        "code": code,
        "description": f"{type_} happened",
        "docURL": "https://smartcar.com/docs/errors",
        "statusCode": status,
        "requestId": "req-body",
        "resolution": {"type": "RETRY_LATER", "url": None},
        "suggestedUserMessage": None,
        **extra,
    }
    return json.dumps(body).encode()


# Every row of the upstream error table: (type, HTTP status, code, advice, outcome).
ERROR_TABLE: list[tuple[str, int, str | None, Advice, Outcome]] = [
    ("AUTHENTICATION", 401, None, "refresh_token", "retry_later"),
    ("PERMISSION", 403, None, "needs_reauth", "needs_reauth"),
    ("VALIDATION", 400, None, "our_bug", "failed"),
    ("VALIDATION", 400, "PARAMETER", "our_bug", "failed"),
    ("RESOURCE_NOT_FOUND", 404, "PATH", "our_bug", "failed"),
    ("RESOURCE_NOT_FOUND", 404, "VERSION", "our_bug", "failed"),
    *(
        ("CONNECTED_SERVICES_ACCOUNT", 400, code, "owner_action", "needs_reauth")
        for code in (
            "ACCOUNT_ISSUE",
            "AUTHENTICATION_FAILED",
            "NO_VEHICLES",
            "PERMISSION",
            "SUBSCRIPTION",
            "VEHICLE_MISSING",
            "VIRTUAL_KEY_REQUIRED",
        )
    ),
    ("VEHICLE_STATE", 409, "ASLEEP", "retry_later", "retry_later"),
    ("VEHICLE_STATE", 409, "UNKNOWN", "retry_later", "retry_later"),
    ("VEHICLE_STATE", 409, "CHARGING_IN_PROGRESS", "retry_later", "retry_later"),
    ("RATE_LIMIT", 429, "VEHICLE", "vehicle_throttled", "retry_later"),
    ("RATE_LIMIT", 429, "SMARTCAR_API", "app_throttled", "retry_later"),
    *(
        ("BILLING", 430, code, "plan_limit", "failed")
        for code in ("INVALID_PLAN", "VEHICLE_LIMIT", "VEHICLE_REQUEST_LIMIT", "ACCOUNT_SUSPENDED")
    ),
    ("COMPATIBILITY", 501, "MAKE_NOT_COMPATIBLE", "not_capable", "not_capable"),
    ("COMPATIBILITY", 501, "SMARTCAR_NOT_CAPABLE", "not_capable", "not_capable"),
    ("COMPATIBILITY", 501, "VEHICLE_NOT_CAPABLE", "not_capable", "not_capable"),
    ("COMPATIBILITY", 501, "PLATFORM_NOT_CAPABLE", "needs_reauth", "needs_reauth"),
    *(
        ("UPSTREAM", 502, code, "retry_later", "retry_later")
        for code in ("INVALID_DATA", "KNOWN_ISSUE", "NO_RESPONSE", "RATE_LIMIT", "UNKNOWN_ISSUE")
    ),
    ("SERVER", 500, "INTERNAL", "retry_later", "retry_later"),
    ("SERVER", 500, None, "retry_later", "retry_later"),
]


@pytest.mark.parametrize(("type_", "status", "code", "advice", "outcome"), ERROR_TABLE)
def test_error_table(
    type_: str, status: int, code: str | None, advice: Advice, outcome: Outcome
) -> None:
    error = error_from_response(status, {}, v2_body(type_, code, status), now=NOW)
    assert (error.type, error.code, error.status) == (type_, code, status)
    assert error.advice == advice
    assert error.outcome == outcome
    assert error.request_id == "req-body"
    assert error.description == f"{type_} happened"


@pytest.mark.parametrize(
    ("advice", "outcome"),
    [
        ("refresh_token", "retry_later"),
        ("retry_later", "retry_later"),
        ("vehicle_throttled", "retry_later"),
        ("app_throttled", "retry_later"),
        ("needs_reauth", "needs_reauth"),
        ("owner_action", "needs_reauth"),
        ("not_capable", "not_capable"),
        ("plan_limit", "failed"),
        ("our_bug", "failed"),
        ("bad_payload", "failed"),
    ],
)
def test_outcome_for_every_advice(advice: Advice, outcome: Outcome) -> None:
    assert outcome_for(advice) == outcome


def test_outcome_mapping_covers_every_advice() -> None:
    # every failure outcome is reached by some advice; `ok` and `needs_key` are not failures
    # Smartcar reports (a stored token that cannot be read is ours)
    failures = set(get_args(Outcome)) - {"ok", "needs_key"}
    assert {outcome_for(a) for a in get_args(Advice)} == failures


@pytest.mark.parametrize(
    ("type_", "code", "status", "advice"),
    [
        ("NETWORK", "IO", None, "retry_later"),
        ("TIMEOUT", None, None, "retry_later"),
        ("INVALID_PAYLOAD", None, 200, "bad_payload"),
        ("RATE_LIMIT", None, 429, "app_throttled"),
        ("RATE_LIMIT", "SOMETHING_NEW", 429, "app_throttled"),
        ("SOMETHING_NEW", None, 401, "refresh_token"),
        ("SOMETHING_NEW", None, 403, "needs_reauth"),
        ("SOMETHING_NEW", None, 409, "retry_later"),
        ("SOMETHING_NEW", None, 429, "app_throttled"),
        ("SOMETHING_NEW", None, 430, "plan_limit"),
        ("SOMETHING_NEW", None, 503, "retry_later"),
        ("SOMETHING_NEW", None, 418, "our_bug"),
        ("SOMETHING_NEW", None, 302, "our_bug"),
        ("UNKNOWN", None, None, "our_bug"),
        ("OAUTH", "invalid_grant", 400, "needs_reauth"),
        ("OAUTH", "invalid_request", 400, "needs_reauth"),
        ("OAUTH", "invalid_client", 401, "our_bug"),
        ("OAUTH", "unsupported_grant_type", 400, "our_bug"),
        ("OAUTH", "server_error", 500, "retry_later"),
        ("OAUTH", "temporarily_unavailable", 503, "retry_later"),
    ],
)
def test_classify_beyond_the_table(
    type_: str, code: str | None, status: int | None, advice: Advice
) -> None:
    assert classify(type_, code, status) == advice


# Body variants


@pytest.mark.parametrize(
    "resolution",
    [{"type": "RETRY_LATER", "url": "https://x"}, None, "RETRY_LATER", ["odd"]],
)
def test_resolution_in_any_shape(resolution: object) -> None:
    body = v2_body("VEHICLE_STATE", "ASLEEP", 409, resolution=resolution)
    error = error_from_response(409, {}, body, now=NOW)
    assert (error.type, error.code, error.advice) == ("VEHICLE_STATE", "ASLEEP", "retry_later")


def test_nulls_everywhere() -> None:
    body = json.dumps(
        {
            "type": "SERVER",
            "code": None,
            "description": None,
            "docURL": None,
            "statusCode": None,
            "requestId": None,
            "resolution": None,
            "suggestedUserMessage": None,
        }
    ).encode()
    error = error_from_response(500, {"SC-Request-Id": "req-hdr"}, body, now=NOW)
    assert (error.type, error.code, error.request_id) == ("SERVER", None, "req-hdr")
    assert error.description == "HTTP 500"


def test_validation_detail_is_kept_in_the_description() -> None:
    detail = [{"field": "startDate", "message": "must be within 30 days"}]
    body = v2_body("VALIDATION", "PARAMETER", 400, detail=detail)
    error = error_from_response(400, {}, body, now=NOW)
    assert error.description.startswith("VALIDATION happened; detail: ")
    assert "must be within 30 days" in error.description


@pytest.mark.parametrize("status", [502, 503, 504])
def test_html_gateway_page(status: int) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    error = error_from_response(status, {"Content-Type": "text/html"}, page, now=NOW)
    assert (error.type, error.code, error.status) == ("UNKNOWN", None, status)
    assert error.advice == "retry_later"
    assert error.description == f"HTTP {status} with a non-JSON body: 502 Bad Gateway"


def test_plain_text_body_without_title() -> None:
    error = error_from_response(500, {}, b"upstream  connect error\nor reset", now=NOW)
    assert error.description == "HTTP 500 with a non-JSON body: upstream connect error or reset"


def test_body_that_is_not_utf8() -> None:
    error = error_from_response(502, {}, b"\xff\xfe\x00garbage", now=NOW)
    assert error.advice == "retry_later"
    assert "non-JSON" in error.description


@pytest.mark.parametrize(
    ("status", "advice"), [(503, "retry_later"), (401, "refresh_token"), (400, "our_bug")]
)
def test_empty_body(status: int, advice: Advice) -> None:
    error = error_from_response(status, {}, b"  \n", now=NOW)
    assert error.type == "UNKNOWN"
    assert error.advice == advice
    assert error.description == f"HTTP {status} with an empty body"


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[1, 2]", "array"), (b'"oops"', "string"), (b"42", "number"), (b"null", "null")],
)
def test_json_that_is_not_an_object(body: bytes, kind: str) -> None:
    error = error_from_response(500, {}, body, now=NOW)
    assert error.advice == "retry_later"
    assert error.description == f"HTTP 500 with a JSON {kind} body"


def test_legacy_shape() -> None:
    body = b'{"error": "rate_limit_error", "message": "Slow down", "code": "RL_1"}'
    error = error_from_response(429, {"Retry-After": "30"}, body, now=NOW)
    assert (error.type, error.code, error.description) == ("RATE_LIMIT", "RL_1", "Slow down")
    assert error.advice == "app_throttled"
    assert error.retry_after_s == 30


@pytest.mark.parametrize(
    ("name", "status", "type_", "advice"),
    [
        ("monthly_limit_exceeded", 430, "BILLING", "plan_limit"),
        ("not_capable_error", 501, "COMPATIBILITY", "not_capable"),
        ("authentication_error", 401, "AUTHENTICATION", "refresh_token"),
        ("gateway_timeout_error", 504, "GATEWAY_TIMEOUT", "retry_later"),
    ],
)
def test_legacy_names(name: str, status: int, type_: str, advice: Advice) -> None:
    body = json.dumps({"error": name, "message": "m"}).encode()
    error = error_from_response(status, {}, body, now=NOW)
    assert (error.type, error.advice) == (type_, advice)


def test_v3_envelope_with_string_status() -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "type": "RATE_LIMIT",
                    "code": "VEHICLE",
                    "status": "429",
                    "title": "Rate limited",
                    "detail": "Too many requests for this vehicle",
                    "requestId": "req-v3",
                },
                {"type": "SERVER", "status": "500"},
            ]
        }
    ).encode()
    error = error_from_response(429, {"Retry-After": "120"}, body, now=NOW)
    assert (error.type, error.code, error.status) == ("RATE_LIMIT", "VEHICLE", 429)
    assert error.description == "Too many requests for this vehicle"
    assert error.request_id == "req-v3"
    assert error.advice == "vehicle_throttled"
    assert error.retry_after_s == 120


def test_v3_envelope_without_errors() -> None:
    error = error_from_response(503, {}, b'{"errors": []}', now=NOW)
    assert (error.type, error.advice) == ("UNKNOWN", "retry_later")


def test_nested_error_object() -> None:
    body = b'{"error": {"type": "PERMISSION", "description": "scope missing"}}'
    error = error_from_response(403, {}, body, now=NOW)
    assert (error.type, error.advice, error.description) == (
        "PERMISSION",
        "needs_reauth",
        "scope missing",
    )


def test_oauth_rejected_refresh() -> None:
    body = b'{"error": "invalid_grant", "error_description": "Invalid or expired token"}'
    error = error_from_response(400, {}, body, now=NOW)
    assert (error.type, error.code, error.status) == ("OAUTH", "invalid_grant", 400)
    assert error.description == "Invalid or expired token"
    assert error.advice == "needs_reauth"
    assert error.outcome == "needs_reauth"


def test_oauth_bad_client_is_ours() -> None:
    body = b'{"error": "invalid_client", "error_description": "Bad credentials"}'
    assert error_from_response(401, {}, body, now=NOW).advice == "our_bug"


def test_oauth_error_without_description() -> None:
    error = error_from_response(400, {}, b'{"error": "invalid_grant"}', now=NOW)
    assert (error.type, error.description, error.advice) == (
        "OAUTH",
        "invalid_grant",
        "needs_reauth",
    )


def test_unknown_type_falls_back_on_status() -> None:
    error = error_from_response(503, {}, v2_body("BRAND_NEW", "X", 503), now=NOW)
    assert (error.type, error.advice) == ("BRAND_NEW", "retry_later")


def test_lowercase_type_is_normalised() -> None:
    error = error_from_response(409, {}, v2_body("vehicle_state", "ASLEEP", 409), now=NOW)
    assert error.type == "VEHICLE_STATE"


def test_request_id_from_body_wins_and_header_is_case_insensitive() -> None:
    assert error_from_response(500, {"sc-request-id": "h"}, b"", now=NOW).request_id == "h"
    body = v2_body("SERVER", None, 500)
    assert error_from_response(500, {"SC-Request-Id": "h"}, body, now=NOW).request_id == "req-body"


def test_long_descriptions_are_cut() -> None:
    body = json.dumps({"type": "SERVER", "description": "x" * 5000}).encode()
    assert len(error_from_response(500, {}, body, now=NOW).description) == 1000


# Retry-After


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("99999999", MAX_RETRY_AFTER_S),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sun, 01 Mar 2026 12:05:00 GMT", 300.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("Sun, 01 Mar 2099 12:00:00 GMT", MAX_RETRY_AFTER_S),
        (str(int((NOW.timestamp() + 45) * 1000)), 45.0),
        (str(int((NOW.timestamp() - 45) * 1000)), 0.0),
        (str(int(NOW.timestamp()) + 600), 600.0),
        (str(int((NOW.timestamp() + 10 * 86400) * 1000)), MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_forms(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value", [None, "", "  ", "soon", "12abc", "1e3", "nan", "inf", "1_000", "Mon, 99 Foo"]
)
def test_retry_after_garbage(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_with_naive_now_is_read_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:00 GMT", naive) == 60.0


def test_retry_after_header_reaches_the_error() -> None:
    headers = {"retry-after": str(int((NOW.timestamp() + 120) * 1000))}
    body = v2_body("RATE_LIMIT", "VEHICLE", 429)
    error = error_from_response(429, headers, body, now=NOW)
    assert error.retry_after_s == pytest.approx(120.0)


# The error value


def sample() -> SmartcarError:
    return SmartcarError(
        type="RATE_LIMIT",
        code="VEHICLE",
        status=429,
        request_id="req-1",
        description="Too many requests",
        retry_after_s=120.0,
    )


def test_to_json_has_exactly_the_contract_keys() -> None:
    data = sample().to_json()
    assert data == {
        "type": "RATE_LIMIT",
        "code": "VEHICLE",
        "status": 429,
        "request_id": "req-1",
        "retry_after_s": 120.0,
        "description": "Too many requests",
    }
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("through_text", [False, True])
def test_from_json_round_trip(through_text: bool) -> None:
    data = sample().to_json()
    rebuilt = SmartcarError.from_json(json.dumps(data) if through_text else data)
    assert rebuilt.to_json() == data
    assert rebuilt.advice == "vehicle_throttled"


def test_from_json_keeps_an_escalation_only_when_told() -> None:
    error = SmartcarError(type="AUTHENTICATION", status=401, description="expired").escalate()
    assert error.advice == "needs_reauth"
    assert SmartcarError.from_json(error.to_json()).advice == "refresh_token"
    rebuilt = SmartcarError.from_json(error.to_json(), advice="needs_reauth")
    assert rebuilt.outcome == "needs_reauth"


@pytest.mark.parametrize("data", [{}, {"type": ""}, {"type": 3}, "[]", "null"])
def test_from_json_rejects_garbage(data: Any) -> None:
    with pytest.raises(ValueError, match="stored Smartcar error"):
        SmartcarError.from_json(data)


def test_from_json_ignores_mistyped_optional_fields() -> None:
    error = SmartcarError.from_json(
        {"type": "SERVER", "status": True, "retry_after_s": "5", "code": None}
    )
    assert (error.status, error.retry_after_s, error.description) == (None, None, "")


def test_fields_are_read_only() -> None:
    error = sample()
    with pytest.raises(AttributeError, match="read-only"):
        error.advice = "our_bug"
    with pytest.raises(AttributeError, match="read-only"):
        del error.type
    error.add_note("still allows notes")


def test_pickle_round_trip() -> None:
    error = sample().with_advice("our_bug")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own value
    assert copy.to_json() == error.to_json()
    assert copy.advice == "our_bug"


def test_message_and_repr() -> None:
    assert str(sample()) == "RATE_LIMIT:VEHICLE (HTTP 429, request req-1): Too many requests"
    assert str(SmartcarError(type="TIMEOUT", description="slow")) == "TIMEOUT: slow"
    assert "advice='vehicle_throttled'" in repr(sample())


def test_escalate_leaves_other_advice_alone() -> None:
    error = sample()
    assert error.escalate() is error


@pytest.mark.parametrize(
    ("type_", "code", "unknown"),
    [("TIMEOUT", None, True), ("NETWORK", "IO", True), ("NETWORK", "CONNECT", False)],
)
def test_outcome_unknown(type_: str, code: str | None, unknown: bool) -> None:
    assert SmartcarError(type=type_, code=code, description="").outcome_unknown is unknown
    assert SmartcarError(type="SERVER", status=500, description="").outcome_unknown is False


def test_get_header() -> None:
    headers = {"Retry-After": " 5 ", "X-Blank": "  "}
    assert get_header(headers, "retry-after") == "5"
    assert get_header(headers, "x-blank") is None
    assert get_header(headers, "missing") is None
