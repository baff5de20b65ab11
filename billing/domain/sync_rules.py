"""The rules of one vehicle read: the days it asks for, and what a failed read does to the
vehicle (its next sync state, and how long it backs off).

A failure is described by the advice the Smartcar error model gives (`Advice`, the same
values as `billing.smartcar.errors.Advice`) and its type and code; nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, assert_never

from billing.domain import planner
from billing.domain.answer import ReadWindow
from billing.domain.models import SyncState
from billing.domain.window import HISTORY_DAYS, last_ended_day

Advice = Literal[
    "refresh_token",
    "retry_later",
    "vehicle_throttled",
    "app_throttled",
    "needs_reauth",
    "owner_action",
    "not_capable",
    "plan_limit",
    "our_bug",
    "bad_payload",
]

# What a read of one vehicle came to, as `billing sync` and the metrics count it.
Outcome = Literal["ok", "retry_later", "needs_reauth", "needs_key", "not_capable", "failed"]


def outcome_for(advice: Advice) -> Outcome:
    """The `billing sync` outcome for a vehicle whose sync ended with this advice."""
    match advice:
        case "retry_later" | "vehicle_throttled" | "app_throttled" | "refresh_token":
            return "retry_later"
        case "needs_reauth" | "owner_action":
            return "needs_reauth"
        case "not_capable":
            return "not_capable"
        case "plan_limit" | "our_bug" | "bad_payload":
            return "failed"
        case _:
            assert_never(advice)


@dataclass(frozen=True, slots=True)
class ReadDays:
    """What a read asks for: `start` (None: Smartcar's default, its last 30 days) through
    `end`, and the window the answer's days must fall in."""

    start: date | None
    end: date
    window: ReadWindow


def read_days(
    now: datetime, timezone: str, synced_through: date | None, lookback_days: int
) -> ReadDays:
    """Only days that have ended for the employee are asked for (and accepted): a day still
    running would be priced from a partial figure. A vehicle read before is asked again for
    the `lookback_days` before the day after its last read (restatements), never for more
    than the 30 days Smartcar keeps."""
    today = planner.today_of(now)
    end = last_ended_day(now, timezone)
    start = None
    if synced_through is not None:
        start = min(
            max(
                synced_through + timedelta(days=1) - timedelta(days=lookback_days),
                today - timedelta(days=HISTORY_DAYS - 1),
            ),
            end,
        )
    # Without a startDate Smartcar offers its last 30 days (its today may be a day ahead of
    # or behind UTC's).
    first = start or today - timedelta(days=HISTORY_DAYS)
    return ReadDays(start, end, ReadWindow(first=first, last=end, last_ended=end))


def state_after(advice: Advice) -> SyncState:
    """The vehicle's sync state after a read that failed with this advice."""
    match advice:
        case "vehicle_throttled":
            return "throttled"
        case "needs_reauth" | "refresh_token":
            return "needs_reauth"
        case "owner_action":
            return "owner_action"
        case "not_capable":
            return "not_capable"
        case "plan_limit" | "our_bug" | "bad_payload":
            return "failed"
        case "retry_later" | "app_throttled":
            return "retry_later"
        case _:
            assert_never(advice)


def backoff_kind(advice: Advice, type_: str, code: str | None) -> planner.FailureKind | None:
    """How the vehicle backs off after the failure; None when it does not: an application
    throttle is not this vehicle's doing (it stays due, everyone pauses), and the other
    states wait for a person."""
    match advice:
        case "vehicle_throttled":
            return "vehicle_throttle"
        case "retry_later" | "plan_limit" | "our_bug" | "bad_payload":
            if (type_, code) == ("UPSTREAM", "RATE_LIMIT") or advice == "plan_limit":
                return "upstream_rate_limit"
            return "transient"
        case "app_throttled" | "refresh_token" | "needs_reauth" | "owner_action" | "not_capable":
            return None
        case _:
            assert_never(advice)
