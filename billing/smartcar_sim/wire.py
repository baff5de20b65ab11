"""What the simulator puts on the wire when it says no: Smartcar v2 error bodies (and the older
and newer shapes seen in the field), OAuth errors, gateway pages and `Retry-After` values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any, Literal

from aiohttp import web

RetryAfterStyle = Literal["seconds", "epoch_ms", "http_date"]
DOCS = "https://smartcar.com/docs/errors/api-errors"


@dataclass(frozen=True)
class ErrorType:
    status: int
    codes: tuple[str | None, ...]
    # Types whose code list is open-ended in the documentation ("ASLEEP, UNKNOWN, …").
    open_codes: bool
    description: str
    resolution: str | None
    user_message: str | None


ERROR_TYPES: MappingProxyType[str, ErrorType] = MappingProxyType(
    {
        "AUTHENTICATION": ErrorType(
            401,
            (None,),
            False,
            "The request authentication failed: the access token is invalid or expired.",
            "REAUTHENTICATE",
            None,
        ),
        "PERMISSION": ErrorType(
            403,
            (None,),
            False,
            "The access token does not grant the permission this request needs.",
            "REAUTHENTICATE",
            "Please reconnect your vehicle and grant the requested permissions.",
        ),
        "VALIDATION": ErrorType(
            400,
            ("PARAMETER", None),
            False,
            "The request has an invalid parameter.",
            None,
            None,
        ),
        "RESOURCE_NOT_FOUND": ErrorType(
            404,
            ("PATH", "VERSION"),
            False,
            "The requested resource does not exist.",
            None,
            None,
        ),
        "CONNECTED_SERVICES_ACCOUNT": ErrorType(
            400,
            (
                "ACCOUNT_ISSUE",
                "AUTHENTICATION_FAILED",
                "NO_VEHICLES",
                "PERMISSION",
                "SUBSCRIPTION",
                "VEHICLE_MISSING",
                "VIRTUAL_KEY_REQUIRED",
            ),
            False,
            "The vehicle owner must take action in their connected services account.",
            "CONTACT_SUPPORT",
            "Please log in to your Tesla account and resolve the issue shown there.",
        ),
        "VEHICLE_STATE": ErrorType(
            409,
            ("ASLEEP", "UNKNOWN"),
            True,
            "The vehicle is in a state that does not allow this request right now.",
            "RETRY_LATER",
            "Your vehicle is asleep. Please try again later.",
        ),
        "RATE_LIMIT": ErrorType(
            429,
            ("VEHICLE", "SMARTCAR_API"),
            False,
            "Too many requests. Please retry after the time given in Retry-After.",
            "RETRY_LATER",
            None,
        ),
        "BILLING": ErrorType(
            430,
            ("INVALID_PLAN", "VEHICLE_LIMIT", "VEHICLE_REQUEST_LIMIT", "ACCOUNT_SUSPENDED"),
            False,
            "The application's plan does not allow this request.",
            "CONTACT_SUPPORT",
            None,
        ),
        "COMPATIBILITY": ErrorType(
            501,
            (
                "VEHICLE_NOT_CAPABLE",
                "MAKE_NOT_COMPATIBLE",
                "SMARTCAR_NOT_CAPABLE",
                "PLATFORM_NOT_CAPABLE",
            ),
            False,
            "The vehicle is not capable of this request.",
            None,
            "Your vehicle does not support this feature.",
        ),
        "UPSTREAM": ErrorType(
            502,
            ("UNKNOWN_ISSUE", "INVALID_DATA", "KNOWN_ISSUE", "NO_RESPONSE", "RATE_LIMIT"),
            False,
            "The vehicle manufacturer's service failed to answer correctly.",
            "RETRY_LATER",
            "Your vehicle's manufacturer is having trouble. Please try again later.",
        ),
        "SERVER": ErrorType(
            500,
            ("INTERNAL",),
            True,
            "Smartcar had an internal error.",
            "RETRY_LATER",
            None,
        ),
    }
)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer; floats stay floats on purpose (the real API sends them)."""
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _error_fields(
    error_type: str,
    code: str | None,
    request_id: str,
    description: str | None,
    detail: list[dict[str, str]] | None,
) -> dict[str, Any]:
    """The fields of a Smartcar error object, absent values as null. `resolution` is always
    an object with a `type` (null when there is nothing to do), as documented."""
    meta = ERROR_TYPES[error_type]
    anchor = (code or error_type).lower().replace("_", "-")
    fields: dict[str, Any] = {
        "type": error_type,
        "code": code,
        "description": description or meta.description,
        "docURL": f"{DOCS}/{error_type.lower().replace('_', '-')}#{anchor}",
        "requestId": request_id,
        "resolution": {"type": meta.resolution, "url": None},
        "suggestedUserMessage": meta.user_message,
    }
    if error_type == "VALIDATION":
        fields["detail"] = detail
    return fields


def v2_error(
    error_type: str,
    code: str | None,
    *,
    request_id: str,
    description: str | None = None,
    detail: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A v2 error body with every documented field (absent values as null)."""
    status = ERROR_TYPES[error_type].status
    body = {
        **_error_fields(error_type, code, request_id, description, detail),
        "statusCode": status,
    }
    return json_response(body, status, headers)


def v3_error(
    error_type: str,
    code: str | None,
    *,
    request_id: str,
    description: str | None = None,
    detail: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The v3 envelope `{"errors": [{...}]}`: the same error object, its `status` a string."""
    status = ERROR_TYPES[error_type].status
    error = {
        **_error_fields(error_type, code, request_id, description, detail),
        "status": str(status),
    }
    return json_response({"errors": [error]}, status, headers)


def legacy_error(request_id: str, status: int = 409) -> web.Response:
    """The v1.0 shape `{"error", "message", "code"}` (with `statusCode` and `requestId`, which
    the official SDK reads from it)."""
    return json_response(
        {
            "error": "vehicle_state_error",
            "message": "Vehicle is asleep.",
            "code": "VS_000",
            "statusCode": status,
            "requestId": request_id,
        },
        status,
    )


def html_page(status: int, title: str, text: str = "") -> web.Response:
    """A non-JSON page, as gateways and the Connect UI send."""
    body = (
        f"<html><head><title>{status} {title}</title></head><body>"
        f"<center><h1>{status} {title}</h1></center><p>{text}</p><hr></body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html")


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    """An OAuth-style `{"error", "error_description"}` answer of the token endpoint."""
    return json_response({"error": error, "error_description": description}, status)


def retry_after(seconds: float, now: datetime, style: RetryAfterStyle) -> str:
    """`Retry-After` in the documented seconds form, or the epoch-milliseconds / HTTP-date
    forms that SDK tests and HTTP allow."""
    whole = max(1, int(-(-seconds // 1)))
    if style == "seconds":
        return str(whole)
    at = now + timedelta(seconds=whole)
    if style == "epoch_ms":
        return str(int(at.timestamp() * 1000))
    return format_datetime(at, usegmt=True)


def timestamp(at: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as Smartcar's `SC-*` headers carry it."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
