"""Whole fleets over 90 simulated days against the default Smartcar budget."""

from __future__ import annotations

from functools import cache

import pytest

from billing.fleet_simulation import (
    SimulationConfig,
    SimulationResult,
    Start,
    simulate,
    theoretical_bound,
)

DEFAULT = SimulationConfig(vehicles=1)
BOUND = theoretical_bound(DEFAULT)


@cache
def run(config: SimulationConfig) -> SimulationResult:
    return simulate(config)


def assert_within_the_bucket(result: SimulationResult) -> None:
    c = result.config
    # Smartcar's own copy of the bucket never refused a call, and no window of calls is
    # larger than the burst plus what refills in it.
    assert result.app_rate_limited == 0
    assert result.max_calls_per_hour <= c.burst + c.per_minute * 60
    assert result.max_calls_per_day <= c.burst + c.per_minute * 1440


def test_the_bound_is_the_refill_over_the_window_less_the_margin() -> None:
    assert BOUND == 2 * 1440 * (30 - DEFAULT.margin_days) == 72_000


@pytest.mark.parametrize(
    ("vehicles", "start"),
    [(100, "staggered"), (1_000, "connected"), (round(0.9 * BOUND), "staggered")],
)
def test_no_day_is_lost_and_the_budget_is_honoured(vehicles: int, start: Start) -> None:
    result = run(SimulationConfig(vehicles=vehicles, start=start))
    assert result.days_lost == 0
    assert result.vehicles_with_loss == 0
    assert_within_the_bucket(result)
    assert result.wasted_calls == 0
    assert result.avoidable_throttles == 0
    # The planner keeps its safety margin at these sizes.
    assert result.min_slack_days >= result.config.margin_days
    # Faults happened and were retried, yet every vehicle was read.
    assert result.transient_failures > 0
    assert result.vehicle_throttles > 0
    assert result.reads >= vehicles * 90 / max(1.0, result.read_interval_days) * 0.95


def test_a_small_fleet_is_read_every_day() -> None:
    result = run(SimulationConfig(vehicles=100, start="staggered"))
    assert result.read_interval_days == 1
    assert result.data_age_median_days == 1
    assert result.data_age_max_days <= 2
    assert result.reads == pytest.approx(100 * 90, rel=0.01)


def test_global_pauses_stop_every_call_until_they_end() -> None:
    result = simulate(SimulationConfig(vehicles=1_000, days=30, app_pause_every_days=3))
    assert result.app_pauses == 9  # on days 3, 6, ... 27
    assert result.days_lost == 0
    assert_within_the_bucket(result)


def test_a_fleet_beyond_any_schedule_loses_days_and_the_simulation_sees_it() -> None:
    # A twentieth of the default refill reads 144 vehicles a day: at most 29 * 144 = 4,176
    # vehicles can each be read once before their oldest unread day leaves the window.
    config = SimulationConfig(vehicles=6_000, days=45, per_minute=0.1, burst=6, seed=3)
    result = simulate(config)
    assert result.days_lost > 0
    assert result.min_slack_days < 0
    assert_within_the_bucket(result)


def test_the_same_scenario_gives_the_same_result() -> None:
    config = SimulationConfig(vehicles=300, days=20, seed=7, fault_rate=0.05)
    assert simulate(config) == simulate(config)
    assert simulate(config) != simulate(SimulationConfig(vehicles=300, days=20, seed=8))


def test_rejects_an_empty_scenario() -> None:
    with pytest.raises(ValueError, match="vehicles"):
        simulate(SimulationConfig(vehicles=0))
