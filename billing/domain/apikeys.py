"""API keys as operators see them: never the secret, always whether the key still works."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator, model_validator

from billing.domain.access import Role
from billing.domain.errors import InvalidData
from billing.domain.models import Input, Record

_DURATION = re.compile(r"^\s*([0-9]{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_LIFETIME = timedelta(days=3660)
# A key's last use is written at most this often, so authentication stays a read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` as a timedelta (positive, at most ten years)."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidData(f"{text!r} is not a duration such as 30d, 12h, 90m or 2w")
    value = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < value <= MAX_LIFETIME:
        raise InvalidData("a key's lifetime must be more than zero and at most ten years")
    return value


def check_binding(role: Role, fleet_id: UUID | None, employee_id: UUID | None) -> None:
    """The fleet and employee a key of `role` must (and must not) be bound to."""
    if role != "admin" and fleet_id is None:
        raise InvalidData(f"a {role} key needs a fleet_id")
    if role == "admin" and (fleet_id or employee_id):
        raise InvalidData("an admin key is not bound to a fleet or employee")
    if role == "employee" and employee_id is None:
        raise InvalidData("an employee key needs an employee_id")
    if role in ("manager", "hr") and employee_id is not None:
        raise InvalidData(f"a {role} key is not bound to an employee")


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


class ApiKey(Record):
    prefix: str = Field(description="the key's public part; the secret is never shown again")
    role: Role
    fleet_id: UUID | None
    employee_id: UUID | None
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the whole key: shown only in this answer")


class ApiKeyPage(Record):
    items: list[ApiKey]


class ApiKeyCreate(Input):
    role: Role
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    expires_in: str | None = Field(
        default=None, description="lifetime such as 30d, 12h, 90m or 2w; absent: never expires"
    )

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except InvalidData as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _binding(self) -> ApiKeyCreate:
        try:
            check_binding(self.role, self.fleet_id, self.employee_id)
        except InvalidData as exc:
            raise ValueError(exc.message) from None
        return self


@dataclass
class FailureLimiter:
    """Failed authentications per source address in a sliding window (pure: pass `now`).

    Past `limit` failures within `window_s`, the address is refused without a database
    lookup until its oldest failure leaves the window.
    """

    limit: int = 20
    window_s: float = 60.0
    max_sources: int = 10_000
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def retry_after(self, source: str, now: float) -> float | None:
        recent = self._recent(source, now)
        if len(recent) < self.limit:
            return None
        return max(recent[0] + self.window_s - now, 1.0)

    def failed(self, source: str, now: float) -> None:
        if source not in self._failures and len(self._failures) >= self.max_sources:
            self._evict(now)
        self._recent(source, now).append(now)

    def _recent(self, source: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(source, ()) if t > now - self.window_s]
        self._failures[source] = kept
        return kept

    def _evict(self, now: float) -> None:
        for source in list(self._failures):
            if not self._recent(source, now):
                del self._failures[source]
        while len(self._failures) >= self.max_sources:
            self._failures.pop(next(iter(self._failures)))
