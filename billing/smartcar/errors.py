"""Smartcar failures as typed values: what went wrong upstream and what the caller should do.

Smartcar's `type` and `code` are names compared case-insensitively (its official SDKs do, and
their own fixtures send `"code": "Vehicle"`), so an error holds them upper-cased; OAuth error
names (`invalid_grant` …) are case-sensitive by RFC 6749 and kept as sent. Reading an error
response off the wire (body shapes, Retry-After) lives in `error_bodies`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from billing.domain.sync_rules import Advice, Outcome, outcome_for

KNOWN_TYPES: Final = frozenset(
    {
        "AUTHENTICATION",
        "PERMISSION",
        "VALIDATION",
        "RESOURCE_NOT_FOUND",
        "CONNECTED_SERVICES_ACCOUNT",
        "VEHICLE_STATE",
        "RATE_LIMIT",
        "BILLING",
        "COMPATIBILITY",
        "UPSTREAM",
        "SERVER",
        # Ours: failures that never reached Smartcar or that Smartcar answered unreadably.
        "NETWORK",
        "TIMEOUT",
        "INVALID_PAYLOAD",
        "OAUTH",
    }
)

MAX_RETRY_AFTER_S: Final = 24 * 3600.0

_OAUTH_CLIENT_ERRORS: Final = frozenset(
    {"invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}
)
_OAUTH_TRANSIENT: Final = frozenset({"server_error", "temporarily_unavailable"})
_FIELDS: Final = ("type", "code", "status", "request_id", "description", "retry_after_s", "advice")


def canonical_type(type_: str) -> str:
    """A Smartcar error type as held and compared: stripped and upper-cased."""
    return type_.strip().upper()


def canonical_code(type_: str, code: str | None) -> str | None:
    """A code as held and compared: Smartcar's upper-cased, an OAuth error name as sent."""
    if code is None or not (code := code.strip()):
        return None
    return code if canonical_type(type_) == "OAUTH" else code.upper()


def classify(type_: str, code: str | None, status: int | None) -> Advice:
    """What to do about an error, from its type and code (compared case-insensitively);
    unknown types fall back on status."""
    type_ = canonical_type(type_)
    code = canonical_code(type_, code)
    match type_:
        case "NETWORK" | "TIMEOUT" | "VEHICLE_STATE" | "UPSTREAM" | "SERVER":
            return "retry_later"
        case "INVALID_PAYLOAD":
            return "bad_payload"
        case "AUTHENTICATION":
            return "refresh_token"
        case "PERMISSION":
            return "needs_reauth"
        case "VALIDATION" | "RESOURCE_NOT_FOUND":
            return "our_bug"
        case "CONNECTED_SERVICES_ACCOUNT":
            return "owner_action"
        case "RATE_LIMIT":
            # An unknown throttle code is treated as global: wasting the shared budget is worse.
            return "vehicle_throttled" if code == "VEHICLE" else "app_throttled"
        case "BILLING":
            return "plan_limit"
        case "COMPATIBILITY":
            return "needs_reauth" if code == "PLATFORM_NOT_CAPABLE" else "not_capable"
        case "OAUTH":
            name = (code or "").lower()
            if (status is not None and status >= 500) or name in _OAUTH_TRANSIENT:
                return "retry_later"
            # The exact `error` of a rejected refresh is unconfirmed, so anything that is
            # not plainly about our client registration means the grant is dead.
            return "our_bug" if name in _OAUTH_CLIENT_ERRORS else "needs_reauth"
    return _classify_status(status)


def _classify_status(status: int | None) -> Advice:
    if status == 401:
        return "refresh_token"
    if status == 403:
        return "needs_reauth"
    if status in (408, 409, 425):
        return "retry_later"
    if status == 429:
        return "app_throttled"
    if status == 430:
        return "plan_limit"
    if status is not None and status >= 500:
        return "retry_later"
    return "our_bug"


class SmartcarError(Exception):
    """A Smartcar call failed. Read-only once built; `advice` says what the caller should do."""

    type: str
    code: str | None
    status: int | None
    request_id: str | None
    description: str
    retry_after_s: float | None
    advice: Advice

    def __init__(
        self,
        *,
        type: str,
        description: str,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
        advice: Advice | None = None,
    ) -> None:
        type = canonical_type(type) or "UNKNOWN"
        code = canonical_code(type, code)
        label = f"{type}:{code}" if code else type
        parts = (
            f"HTTP {status}" if status is not None else "",
            f"request {request_id}" if request_id else "",
        )
        where = ", ".join(part for part in parts if part)
        prefix = f"{label} ({where})" if where else label
        super().__init__(f"{prefix}: {description}")
        # Written around __setattr__, which keeps the fields read-only afterwards.
        self.__dict__.update(
            type=type,
            code=code,
            status=status,
            request_id=request_id,
            description=description,
            retry_after_s=retry_after_s,
            advice=advice if advice is not None else classify(type, code, status),
        )

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FIELDS:
            raise AttributeError(f"SmartcarError.{name} is read-only")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in _FIELDS:
            raise AttributeError(f"SmartcarError.{name} is read-only")
        super().__delattr__(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._fields(),))

    def __repr__(self) -> str:
        return f"SmartcarError({', '.join(f'{k}={v!r}' for k, v in self._fields().items())})"

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @property
    def outcome(self) -> Outcome:
        return outcome_for(self.advice)

    @property
    def outcome_unknown(self) -> bool:
        """True when the request may have reached Smartcar but its answer was lost.

        A refresh that ends like this may already have rotated the refresh token: retry it
        with the same old refresh token within the grace window.
        """
        return self.type == "TIMEOUT" or (self.type == "NETWORK" and self.code != "CONNECT")

    def with_advice(self, advice: Advice) -> SmartcarError:
        return SmartcarError(**{**self._fields(), "advice": advice})

    def escalate(self) -> SmartcarError:
        """The same error seen again after a refresh: the connection itself is broken."""
        return self.with_advice("needs_reauth") if self.advice == "refresh_token" else self

    def to_json(self) -> dict[str, Any]:
        """The error as stored in `last_error` and printed by `billing sync --json`."""
        return {
            "type": self.type,
            "code": self.code,
            "status": self.status,
            "request_id": self.request_id,
            "retry_after_s": self.retry_after_s,
            "description": self.description,
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any] | str, *, advice: Advice | None = None
    ) -> SmartcarError:
        """Rebuild an error from `to_json()` or its JSON text; advice is derived unless given."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, Mapping):
            raise ValueError("a stored Smartcar error must be a JSON object")
        type_ = data.get("type")
        if not isinstance(type_, str) or not type_:
            raise ValueError("a stored Smartcar error needs a non-empty string `type`")
        status = data.get("status")
        retry_after = data.get("retry_after_s")
        return cls(
            type=type_,
            code=clean_text(data.get("code")),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            request_id=clean_text(data.get("request_id")),
            description=clean_text(data.get("description")) or "",
            retry_after_s=float(retry_after)
            if isinstance(retry_after, int | float) and not isinstance(retry_after, bool)
            else None,
            advice=advice,
        )

    @classmethod
    def bad_payload(
        cls, description: str, *, status: int | None, request_id: str | None
    ) -> SmartcarError:
        return cls(
            type="INVALID_PAYLOAD", description=description, status=status, request_id=request_id
        )


def _restore(fields: dict[str, Any]) -> SmartcarError:
    return SmartcarError(**fields)


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, case-insensitively, with blank values treated as absent."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        return None
    return value.strip() or None


def clean_text(value: object) -> str | None:
    """A scalar JSON value as stripped text; None for null, blanks, booleans and containers."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
