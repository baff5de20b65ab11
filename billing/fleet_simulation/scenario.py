"""A scenario of the fleet simulation and what a run reports."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from billing.domain.planner import (
    DEFAULT_RESERVE,
    MIN_INTERVAL,
    MINUTES_PER_DAY,
    SAFETY_MARGIN_DAYS,
)
from billing.domain.window import HISTORY_DAYS

Start = Literal["staggered", "connected"]
Answer = Literal["ok", "transient", "vehicle_throttle", "upstream_rate_limit", "app_rate_limit"]

START_AT = datetime(2026, 1, 5, tzinfo=UTC)
DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """One scenario. `start`: `staggered` is a fleet the planner has been reading for a
    while; `connected` is a whole fleet connected at the first instant, never read yet."""

    vehicles: int
    days: int = 90
    seed: int = 1
    start: Start = "staggered"
    burst: int = 120
    per_minute: float = 2.0
    tick_s: int = 60
    fault_rate: float = 0.03
    throttle_rate: float = 0.01
    throttle_retry_after_s: int = 120
    upstream_limit_rate: float = 0.001
    # Smartcar throttles a vehicle asked twice in quick succession (field report: 120 s).
    quick_call_s: int = 120
    app_pause_every_days: float | None = None
    app_pause_s: int = 3600
    reserve: float = DEFAULT_RESERVE
    margin_days: int = SAFETY_MARGIN_DAYS
    min_interval: timedelta = MIN_INTERVAL


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What a run cost and what it lost."""

    config: SimulationConfig
    read_interval_days: float
    days_lost: int
    vehicles_with_loss: int
    calls: int
    reads: int
    empty_reads: int
    transient_failures: int
    vehicle_throttles: int
    upstream_limits: int
    avoidable_throttles: int
    app_rate_limited: int
    app_pauses: int
    max_calls_per_hour: int
    max_calls_per_day: int
    data_age_median_days: int
    data_age_p95_days: int
    data_age_max_days: int
    min_slack_days: int
    max_backlog: int

    @property
    def wasted_calls(self) -> int:
        """Calls that bought nothing and could have been avoided."""
        return self.avoidable_throttles + self.app_rate_limited + self.empty_reads


def theoretical_bound(config: SimulationConfig) -> int:
    """Vehicles the bucket can read once per window less the margin, with nothing wasted.

    `per_minute * 1440 * (30 - margin_days)`: 72,000 for the default bucket and margin.
    """
    return math.floor(config.per_minute * MINUTES_PER_DAY * (HISTORY_DAYS - config.margin_days))
