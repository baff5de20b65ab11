"""Reading a Smartcar error response off the wire, whatever shape its body has: the v2 body,
the v3 envelope `{"errors": [{...}]}` (status as a string), the older `{"error", "message"}`
shape, OAuth errors, gateway pages, and `Retry-After` in its three forms."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Final

from billing.smartcar.errors import (
    KNOWN_TYPES,
    MAX_RETRY_AFTER_S,
    SmartcarError,
    clean_text,
    get_header,
)

# Below this a number is a delay; 1e9 s after the epoch is September 2001.
_EPOCH_S_FLOOR: Final = 1e9
# As seconds this would be the year 5138, so it can only be milliseconds.
_EPOCH_MS_FLOOR: Final = 1e11
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_MAX_DESCRIPTION = 1000
# Pre-v2 error names that do not reduce to a v2 type by dropping "_error".
_LEGACY_ALIASES: Final = MappingProxyType(
    {"MONTHLY_LIMIT_EXCEEDED": "BILLING", "NOT_CAPABLE": "COMPATIBILITY"}
)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from `now`, clamped to [0, 24 h]; None when absent or unreadable.

    Accepts a delay in seconds, an HTTP-date, or an absolute UNIX time in milliseconds (as
    Smartcar's SDK tests send) or in seconds.
    """
    if value is None or not (text := value.strip()):
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if _NUMBER.fullmatch(text):
        number = float(text)
        if number >= _EPOCH_MS_FLOOR:
            seconds = number / 1000 - now.timestamp()
        elif number >= _EPOCH_S_FLOOR:
            seconds = number - now.timestamp()
        else:
            seconds = number
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime
) -> SmartcarError:
    """Turn a non-2xx response into a SmartcarError, whatever shape its body has."""
    fields = _body_fields(status, body)
    type_ = fields.get("type") or "UNKNOWN"
    return SmartcarError(
        type=type_,
        code=fields.get("code"),
        status=status,
        request_id=fields.get("request_id") or get_header(headers, "SC-Request-Id"),
        description=(fields.get("description") or f"HTTP {status}")[:_MAX_DESCRIPTION],
        retry_after_s=parse_retry_after(get_header(headers, "Retry-After"), now),
    )


def _body_fields(status: int, body: bytes) -> dict[str, str | None]:
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return {"description": f"HTTP {status} with an empty body"}
    try:
        data = json.loads(text)
    except ValueError:
        return {"description": f"HTTP {status} with a non-JSON body: {_page_summary(text)}"}
    if not isinstance(data, dict):
        return {"description": f"HTTP {status} with a JSON {_json_kind(data)} body"}
    errors = data.get("errors")
    if isinstance(errors, list):
        first = errors[0] if errors else None
        if isinstance(first, dict):
            return _v2_fields(first)
        return {"description": f"HTTP {status} with an empty `errors` list"}
    error = data.get("error")
    if isinstance(error, dict):
        return _v2_fields(error)
    if isinstance(error, str) and "type" not in data:
        return _legacy_or_oauth_fields(error, data)
    return _v2_fields(data)


def _v2_fields(data: Mapping[str, Any]) -> dict[str, str | None]:
    raw_type = clean_text(data.get("type"))
    description = (
        clean_text(data.get("description"))
        or clean_text(data.get("message"))
        or (data.get("detail") if isinstance(data.get("detail"), str) else None)
        or clean_text(data.get("title"))
    )
    detail = data.get("detail")
    if isinstance(detail, list | dict) and detail:
        extra = f"detail: {json.dumps(detail, separators=(',', ':'), default=str)}"
        description = f"{description}; {extra}" if description else extra
    return {
        "type": raw_type.upper() if raw_type else None,
        "code": clean_text(data.get("code")),
        "description": description,
        "request_id": clean_text(data.get("requestId")),
    }


def _legacy_or_oauth_fields(error: str, data: Mapping[str, Any]) -> dict[str, str | None]:
    name = error.strip().upper().removesuffix("_ERROR")
    name = _LEGACY_ALIASES.get(name, name)
    if "message" in data or name in KNOWN_TYPES:
        return {
            "type": name,
            "code": clean_text(data.get("code")),
            "description": clean_text(data.get("message")) or error,
            "request_id": clean_text(data.get("requestId")),
        }
    return {
        "type": "OAUTH",
        "code": error.strip() or None,
        "description": clean_text(data.get("error_description")) or error,
    }


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def _page_summary(text: str) -> str:
    title = _TITLE.search(text)
    summary = title.group(1) if title else _TAG.sub(" ", text)
    return " ".join(summary.split())[:200] or "(no text)"
