"""The sync planner: who is read next, and when each vehicle is read again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import get_args
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.models import SyncState
from billing.domain.planner import (
    MIN_INTERVAL,
    SAFETY_MARGIN_DAYS,
    TRANSIENT_BASE,
    TRANSIENT_CAP,
    UPSTREAM_LIMIT_BASE,
    UPSTREAM_LIMIT_CAP,
    VehicleView,
    at_risk,
    daily_capacity,
    deadline,
    is_due,
    is_readable,
    longest_interval,
    next_read_after_failure,
    next_read_after_success,
    plan,
    priority_key,
    read_interval,
    today_of,
)

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CAPACITY = daily_capacity(2)  # 2 per minute less the 5 % reserve: 2,736 reads a day
NEVER_READ: tuple[SyncState, ...] = ("needs_reauth", "owner_action", "not_capable")


def vid(n: int) -> UUID:
    return UUID(int=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def read_vehicle(
    n: int,
    *,
    deadline_in: int,
    last_success_at: datetime | None = NOW - timedelta(days=1),
    state: SyncState = "ok",
    next_sync_at: datetime | None = None,
    not_before: datetime | None = None,
) -> VehicleView:
    """A vehicle whose oldest unread day leaves the window `deadline_in` days from today."""
    return VehicleView(
        id=vid(n),
        sync_state=state,
        synced_through=TODAY + days(deadline_in - 30),
        access_granted_on=TODAY - days(365),
        last_success_at=last_success_at,
        next_sync_at=next_sync_at,
        not_before=not_before,
    )


def new_vehicle(n: int, granted: date | None = TODAY) -> VehicleView:
    return VehicleView(id=vid(n), sync_state="new", access_granted_on=granted)


# States and due-ness


@pytest.mark.parametrize("state", get_args(SyncState))
def test_only_vehicles_waiting_for_a_person_are_never_read(state: SyncState) -> None:
    assert is_readable(state) is (state not in NEVER_READ)
    assert is_due(read_vehicle(1, deadline_in=3, state=state), NOW) is (state not in NEVER_READ)


def test_back_off_and_schedule_are_respected_to_the_second() -> None:
    second = timedelta(seconds=1)
    assert not is_due(read_vehicle(1, deadline_in=3, not_before=NOW + second), NOW)
    assert not is_due(read_vehicle(1, deadline_in=3, next_sync_at=NOW + second), NOW)
    assert is_due(read_vehicle(1, deadline_in=3, not_before=NOW, next_sync_at=NOW), NOW)
    assert is_due(read_vehicle(1, deadline_in=3, not_before=NOW - second), NOW)


def test_plan_skips_vehicles_that_are_not_due() -> None:
    views = [
        read_vehicle(1, deadline_in=1, state="needs_reauth"),
        read_vehicle(2, deadline_in=1, state="owner_action"),
        read_vehicle(3, deadline_in=1, state="not_capable"),
        read_vehicle(4, deadline_in=1, state="throttled", not_before=NOW + timedelta(seconds=90)),
        read_vehicle(5, deadline_in=1, state="retry_later", not_before=NOW + timedelta(minutes=5)),
        read_vehicle(6, deadline_in=20, next_sync_at=NOW + timedelta(hours=1)),
        read_vehicle(7, deadline_in=25, state="failed"),
        read_vehicle(8, deadline_in=28, state="throttled", not_before=NOW),
    ]
    assert plan(views, NOW, 100) == [vid(7), vid(8)]


# Priority


def test_the_vehicle_closest_to_losing_a_day_comes_first() -> None:
    views = [read_vehicle(n, deadline_in=d) for n, d in [(1, 20), (2, 3), (3, 12), (4, 0)]]
    assert plan(views, NOW, 10) == [vid(4), vid(2), vid(3), vid(1)]


def test_equal_deadlines_go_oldest_data_first_never_read_first_then_by_id() -> None:
    views = [
        read_vehicle(5, deadline_in=4, last_success_at=NOW - timedelta(hours=1)),
        read_vehicle(4, deadline_in=4, last_success_at=NOW - timedelta(days=9)),
        read_vehicle(3, deadline_in=4, last_success_at=None),
        read_vehicle(2, deadline_in=4, last_success_at=NOW - timedelta(days=9)),
    ]
    assert plan(views, NOW, 10) == [vid(3), vid(2), vid(4), vid(5)]


def test_a_vehicle_already_losing_days_is_as_urgent_as_one_due_today() -> None:
    # Either loses one more day tomorrow; the older data breaks the tie.
    overdue = read_vehicle(1, deadline_in=-6, last_success_at=NOW - timedelta(days=36))
    due_today = read_vehicle(2, deadline_in=0, last_success_at=NOW - timedelta(days=30))
    assert deadline(overdue, TODAY) == TODAY - days(6)
    assert priority_key(overdue, TODAY)[0] == priority_key(due_today, TODAY)[0] == TODAY
    assert plan([due_today, overdue], NOW, 1) == [vid(1)]


def test_a_new_vehicle_is_read_early_but_not_before_a_day_that_is_about_to_be_lost() -> None:
    views = [
        read_vehicle(1, deadline_in=2),
        read_vehicle(2, deadline_in=1),
        new_vehicle(3),
        read_vehicle(4, deadline_in=0),
        read_vehicle(5, deadline_in=1, last_success_at=None),
    ]
    assert plan(views, NOW, 10) == [vid(4), vid(3), vid(5), vid(2), vid(1)]


def test_a_new_vehicle_whose_history_is_leaving_the_window_is_urgent() -> None:
    granted_long_ago = new_vehicle(1, granted=TODAY - days(40))
    unknown_grant = new_vehicle(2, granted=None)
    assert priority_key(granted_long_ago, TODAY)[0] == TODAY
    # Without a grant date the whole 30 days are assumed readable.
    assert deadline(unknown_grant, TODAY) == TODAY


def test_plan_spends_whole_tokens_only() -> None:
    views = [read_vehicle(n, deadline_in=n) for n in range(1, 6)]
    assert plan(views, NOW, 2.9) == [vid(1), vid(2)]
    assert plan(views, NOW, 0.99) == []
    assert plan(views, NOW, -3) == []
    assert plan([], NOW, 10) == []


vehicle_views = st.builds(
    VehicleView,
    id=st.integers(min_value=1, max_value=10**6).map(vid),
    sync_state=st.sampled_from(get_args(SyncState)),
    synced_through=st.none() | st.dates(TODAY - days(60), TODAY),
    access_granted_on=st.none() | st.dates(TODAY - days(400), TODAY),
    last_success_at=st.none() | st.datetimes(NOW - days(60), NOW, timezones=st.just(UTC)),
    next_sync_at=st.none() | st.datetimes(NOW - days(2), NOW + days(2), timezones=st.just(UTC)),
    not_before=st.none() | st.datetimes(NOW - days(1), NOW + days(1), timezones=st.just(UTC)),
)


@given(st.lists(vehicle_views, max_size=60, unique_by=lambda v: v.id), st.integers(0, 80))
def test_plan_is_the_most_urgent_due_vehicles_in_order(
    views: list[VehicleView], tokens: int
) -> None:
    chosen = plan(views, NOW, tokens)
    expected = sorted((v for v in views if is_due(v, NOW)), key=lambda v: priority_key(v, TODAY))
    assert chosen == [v.id for v in expected[:tokens]]
    assert plan(list(reversed(views)), NOW, tokens) == chosen


@given(vehicle_views, st.integers(min_value=1, max_value=40))
def test_a_read_vehicle_keeps_its_key_while_its_deadline_is_ahead(
    view: VehicleView, later: int
) -> None:
    # The simulation relies on this to re-sort only the keys that move with the date.
    key = priority_key(view, TODAY)
    after = TODAY + days(later)
    if view.synced_through is not None and key[0] > after:
        assert priority_key(view, after) == key


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        today_of(datetime(2026, 3, 10, 9, 30))


# Pacing


def test_capacity_is_the_refill_less_the_reserve() -> None:
    assert daily_capacity(2, reserve=0) == 2880
    assert daily_capacity(2) == pytest.approx(2736)
    with pytest.raises(ValueError, match="reserve"):
        daily_capacity(2, reserve=1)
    with pytest.raises(ValueError, match="refill"):
        daily_capacity(0)


def test_small_fleets_are_read_daily() -> None:
    assert read_interval(1, CAPACITY) == MIN_INTERVAL
    assert read_interval(2_000, CAPACITY) == MIN_INTERVAL


def test_larger_fleets_are_spread_over_what_the_budget_sustains() -> None:
    assert read_interval(10_000, CAPACITY) == days(10_000 / 2736)
    assert read_interval(60_000, CAPACITY) == days(60_000 / 2736)


def test_the_largest_fleets_are_still_read_once_per_window_with_margin() -> None:
    assert longest_interval() == days(30 - 1 - SAFETY_MARGIN_DAYS)
    assert read_interval(500_000, CAPACITY) == longest_interval()
    assert read_interval(50, CAPACITY, min_interval=days(40)) == longest_interval()
    assert read_interval(500_000, CAPACITY, margin_days=2) == days(27)
    with pytest.raises(ValueError, match="margin"):
        longest_interval(29)


def stored_today(n: int = 1) -> VehicleView:
    """A vehicle just read: everything through yesterday is stored."""
    return VehicleView(
        id=vid(n),
        sync_state="ok",
        synced_through=TODAY - days(1),
        access_granted_on=TODAY - days(365),
        last_success_at=NOW,
    )


def test_after_success_a_small_fleet_reads_again_tomorrow() -> None:
    assert next_read_after_success(stored_today(), NOW, 100, CAPACITY) == NOW + days(1)


def test_after_success_a_mid_size_fleet_is_paced() -> None:
    assert next_read_after_success(stored_today(), NOW, 27_360, CAPACITY) == NOW + days(10)


def test_after_success_a_huge_fleet_still_reads_before_the_margin() -> None:
    at = next_read_after_success(stored_today(), NOW, 1_000_000, CAPACITY)
    # Today is the oldest unread day; it leaves the window after TODAY + 29.
    assert at == datetime.combine(TODAY + days(29 - SAFETY_MARGIN_DAYS), datetime.min.time(), UTC)
    assert at - NOW < longest_interval()


def test_after_success_a_stale_vehicle_is_read_again_soon_but_not_at_once() -> None:
    # synced_through not advanced (should not happen): the deadline cap is in the past.
    stale = read_vehicle(1, deadline_in=2, last_success_at=NOW)
    assert next_read_after_success(stale, NOW, 100, CAPACITY) == NOW + timedelta(hours=1)


# Back-off


@pytest.mark.parametrize("failures", range(1, 12))
def test_transient_back_off_doubles_within_its_jitter_bounds(failures: int) -> None:
    view = stored_today()
    ceiling = min(TRANSIENT_CAP, TRANSIENT_BASE * 2 ** (failures - 1))
    low = next_read_after_failure(view, NOW, "transient", None, failures, 0.0)
    high = next_read_after_failure(view, NOW, "transient", None, failures, 0.999999)
    assert low == NOW + ceiling / 2
    assert NOW + ceiling / 2 < high < NOW + ceiling


def test_transient_back_off_spreads_vehicles_that_failed_together() -> None:
    view = stored_today()
    draws = [i / 10 for i in range(10)]
    retries = {next_read_after_failure(view, NOW, "transient", None, 3, j) for j in draws}
    assert len(retries) == len(draws)


def test_transient_back_off_waits_at_least_a_retry_after() -> None:
    at = next_read_after_failure(stored_today(), NOW, "transient", 900, 1, 0.5)
    assert at == NOW + timedelta(seconds=900)


def test_transient_back_off_does_not_sleep_through_the_last_day_of_the_window() -> None:
    last_day = read_vehicle(1, deadline_in=0)
    evening = NOW.replace(hour=20, minute=0)  # a 6 h back-off would end tomorrow
    at = next_read_after_failure(last_day, evening, "transient", None, 9, 0.9)
    assert at == NOW.replace(hour=23, minute=0)
    # Once the last hour has come, retries keep the base pace rather than stopping.
    late = NOW.replace(hour=23, minute=30)
    assert next_read_after_failure(last_day, late, "transient", None, 9, 0.9) == (
        late + TRANSIENT_BASE
    )


@pytest.mark.parametrize("retry_after", [0, 1, 120, 3599.5])
def test_a_vehicle_throttle_waits_exactly_its_retry_after(retry_after: float) -> None:
    for failures, jitter in [(1, 0.0), (7, 0.99)]:
        at = next_read_after_failure(
            stored_today(), NOW, "vehicle_throttle", retry_after, failures, jitter
        )
        assert at == NOW + timedelta(seconds=retry_after)


def test_a_vehicle_throttle_without_retry_after_waits_the_observed_120_s() -> None:
    at = next_read_after_failure(stored_today(), NOW, "vehicle_throttle", None, 1, 0.3)
    assert at == NOW + timedelta(seconds=120)


def test_an_upstream_rate_limit_waits_hours() -> None:
    first = next_read_after_failure(stored_today(), NOW, "upstream_rate_limit", None, 1, 0.0)
    assert first == NOW + UPSTREAM_LIMIT_BASE / 2
    assert first - NOW >= timedelta(hours=1)
    many = next_read_after_failure(stored_today(), NOW, "upstream_rate_limit", None, 40, 0.999)
    assert many - NOW < UPSTREAM_LIMIT_CAP
    told = next_read_after_failure(stored_today(), NOW, "upstream_rate_limit", 86_400, 1, 0.0)
    assert told == NOW + days(1)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, 7.0])
def test_jitter_is_a_uniform_draw(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        next_read_after_failure(stored_today(), NOW, "transient", None, 1, jitter)


# Visibility


def test_at_risk_when_fewer_than_the_given_days_are_left() -> None:
    assert at_risk(read_vehicle(1, deadline_in=4), TODAY)
    assert not at_risk(read_vehicle(1, deadline_in=5), TODAY)
    assert at_risk(read_vehicle(1, deadline_in=-3), TODAY)
    assert at_risk(read_vehicle(1, deadline_in=9), TODAY, days=10)


def test_at_risk_includes_vehicles_waiting_for_a_person_but_not_incapable_ones() -> None:
    assert at_risk(read_vehicle(1, deadline_in=2, state="needs_reauth"), TODAY)
    assert at_risk(read_vehicle(1, deadline_in=2, state="owner_action"), TODAY)
    assert not at_risk(read_vehicle(1, deadline_in=2, state="not_capable"), TODAY)


def test_a_vehicle_read_on_schedule_is_never_at_risk() -> None:
    at = next_read_after_success(stored_today(), NOW, 1_000_000, CAPACITY)
    assert not at_risk(stored_today(), at.date())
