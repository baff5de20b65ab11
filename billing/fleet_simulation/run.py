"""The fleet simulation's event loop: the worker's scheduler against a modelled upstream."""

from __future__ import annotations

import heapq
import math
import random
from array import array
from collections import Counter
from datetime import date, datetime, timedelta
from typing import assert_never
from uuid import UUID

from billing.domain.bucket import BucketState, drain, full, take_up_to
from billing.domain.planner import (
    MINUTES_PER_DAY,
    FailureKind,
    PriorityKey,
    VehicleView,
    daily_capacity,
    is_due,
    next_read_after_failure,
    next_read_at,
    priority_key,
    read_interval,
)
from billing.domain.window import HISTORY_DAYS, oldest_unread_day
from billing.fleet_simulation.scenario import (
    DAY_S,
    START_AT,
    Answer,
    SimulationConfig,
    SimulationResult,
)

_OLDEST_READABLE = timedelta(days=HISTORY_DAYS - 1)
_ONE_DAY = timedelta(days=1)


def simulate(config: SimulationConfig) -> SimulationResult:
    """Run one scenario to the end and report it."""
    if config.vehicles < 1 or config.days < 1 or config.tick_s < 1:
        raise ValueError("a simulation needs vehicles, days and a positive tick")
    return _Run(config).run()


class _Run:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.capacity = daily_capacity(config.per_minute, config.reserve)
        self.interval = read_interval(
            config.vehicles,
            self.capacity,
            min_interval=config.min_interval,
            margin_days=config.margin_days,
        )
        self.bucket: BucketState = full(START_AT, config.burst)
        self.views = self._initial_views()
        # Due times bucketed by tick: a dict of slots plus a heap of the slots in use is
        # O(1) per vehicle, where one heap over the whole fleet would be O(log N).
        self.slots: dict[int, list[int]] = {}
        self.slot_heap: list[int] = []
        for index, view in enumerate(self.views):
            self._schedule(index, view)
        self.ready: list[tuple[PriorityKey, int]] = []
        # The upstream's own view of the world.
        n = config.vehicles
        self.up_tokens = float(config.burst)
        self.up_at = 0
        self.up_paused_until = 0
        every = config.app_pause_every_days
        self.next_pause_s = None if every is None else round(every * DAY_S)
        self.last_call = array("q", [-(10**12)]) * n
        self.throttled_until = array("q", [0]) * n
        self.lost_vehicle = bytearray(n)
        self.calls_by_minute = array("i", [0]) * (config.days * MINUTES_PER_DAY)
        self.ages = [0] * (HISTORY_DAYS + 1)
        self.counts: Counter[str] = Counter()
        self.min_slack = HISTORY_DAYS - 1
        self.max_backlog = 0

    def _initial_views(self) -> list[VehicleView]:
        config = self.config
        n = config.vehicles
        ids = [UUID(int=index + 1) for index in range(n)]
        if config.start == "connected":
            return [
                VehicleView(id=vid, sync_state="new", access_granted_on=START_AT.date())
                for vid in ids
            ]
        if config.start != "staggered":
            assert_never(config.start)
        # Last reads spread evenly over one read interval before the start, in random order
        # so that neither ids nor positions line up with deadlines.
        spread_s = int(self.interval.total_seconds())
        order = list(range(n))
        self.rng.shuffle(order)
        connected = START_AT.date() - timedelta(days=365)
        views = []
        for index, vid in enumerate(ids):
            last = START_AT - timedelta(seconds=(order[index] + 1) * spread_s // n)
            views.append(self._read_at(vid, last.date() - _ONE_DAY, connected, last))
        return views

    def run(self) -> SimulationResult:
        config = self.config
        end = config.days * DAY_S
        tick = config.tick_s
        views = self.views
        ready = self.ready
        s = 0
        day: date | None = None
        while s < end:
            now = START_AT + timedelta(seconds=s)
            today = now.date()
            if today != day:
                # Keys clamp deadlines to today and a new vehicle's lead counts from today,
                # so those keys move with the date; a read vehicle whose deadline is still
                # ahead keeps its key (see test_planner), which spares most of the work.
                day = today
                ready[:] = [
                    (key, i)
                    if key[0] > today and views[i].synced_through is not None
                    else (priority_key(views[i], today), i)
                    for key, i in ready
                ]
                heapq.heapify(ready)
            while self.slot_heap and self.slot_heap[0] <= s:
                for index in self.slots.pop(heapq.heappop(self.slot_heap)):
                    assert is_due(views[index], now)
                    heapq.heappush(ready, (priority_key(views[index], today), index))
            if ready:
                self._spend(s, now, today)
                self.max_backlog = max(self.max_backlog, len(ready))
            if ready:
                # Out of tokens: the next tick, or the end of a global pause.
                s += tick
                if self.bucket.refilled_at > now + timedelta(seconds=tick):
                    s = _ceil_to(
                        math.ceil((self.bucket.refilled_at - START_AT).total_seconds()), tick
                    )
            elif self.slot_heap:
                s = max(s + tick, self.slot_heap[0])
            else:
                break
        return self._result(START_AT.date() + timedelta(days=config.days - 1))

    def _spend(self, s: int, now: datetime, today: date) -> None:
        c = self.config
        ready = self.ready
        granted, self.bucket = take_up_to(self.bucket, now, len(ready), c.burst, c.per_minute)
        for _ in range(granted):
            _, index = heapq.heappop(ready)
            answer, retry_after = self._upstream(index, s)
            view = self.views[index]
            match answer:
                case "app_rate_limit":
                    # Everyone pauses; the vehicle did nothing wrong and stays first in line.
                    self.bucket = drain(self.bucket, now, now + timedelta(seconds=retry_after))
                    heapq.heappush(ready, (priority_key(view, today), index))
                    return
                case "ok":
                    view = self._stored(index, view, now, today)
                case "transient" | "vehicle_throttle" | "upstream_rate_limit":
                    view = self._failed(view, answer, retry_after, now)
                case _:
                    assert_never(answer)
            self.views[index] = view
            self._schedule(index, view)

    def _schedule(self, index: int, view: VehicleView) -> None:
        at = view.next_sync_at
        if view.not_before is not None and (at is None or view.not_before > at):
            at = view.not_before
        due_s = 0 if at is None else max(0, math.ceil((at - START_AT).total_seconds()))
        slot = -(-due_s // self.config.tick_s) * self.config.tick_s
        waiting = self.slots.get(slot)
        if waiting is None:
            self.slots[slot] = [index]
            heapq.heappush(self.slot_heap, slot)
        else:
            waiting.append(index)

    def _upstream(self, index: int, s: int) -> tuple[Answer, float]:
        c = self.config
        self.calls_by_minute[s // 60] += 1
        if s < self.up_paused_until:
            self.counts["app_rate_limited"] += 1
            return "app_rate_limit", self.up_paused_until - s
        if self.next_pause_s is not None and s >= self.next_pause_s:
            self.counts["app_pauses"] += 1
            self.up_paused_until = s + c.app_pause_s
            self.next_pause_s += round((c.app_pause_every_days or 0) * DAY_S)
            return "app_rate_limit", c.app_pause_s
        self.up_tokens = min(c.burst, self.up_tokens + (s - self.up_at) * c.per_minute / 60)
        self.up_at = s
        if self.up_tokens < 1 - 1e-9:
            self.counts["app_rate_limited"] += 1
            return "app_rate_limit", 60
        self.up_tokens -= 1
        previous, self.last_call[index] = self.last_call[index], s
        if s < self.throttled_until[index] or s - previous < c.quick_call_s:
            self.counts["avoidable"] += 1
            self.throttled_until[index] = max(
                self.throttled_until[index], s + c.throttle_retry_after_s
            )
            return "vehicle_throttle", self.throttled_until[index] - s
        draw = self.rng.random()
        if draw < c.throttle_rate:
            self.throttled_until[index] = s + c.throttle_retry_after_s
            return "vehicle_throttle", c.throttle_retry_after_s
        draw -= c.throttle_rate
        if draw < c.fault_rate:
            return "transient", 0
        if draw - c.fault_rate < c.upstream_limit_rate:
            return "upstream_rate_limit", 0
        return "ok", 0

    def _stored(self, index: int, view: VehicleView, now: datetime, today: date) -> VehicleView:
        counts = self.counts
        first_readable = view.access_granted_on or today - _OLDEST_READABLE
        oldest = oldest_unread_day(view.synced_through, first_readable)
        oldest_readable = today - _OLDEST_READABLE
        if oldest < oldest_readable:
            counts["days_lost"] += (oldest_readable - oldest).days
            self.lost_vehicle[index] = 1
        # Days left before the oldest unread day would have been lost (its window deadline).
        self.min_slack = min(self.min_slack, (oldest - oldest_readable).days)
        counts["reads"] += 1
        newest = today - _ONE_DAY
        if oldest <= newest:
            self.ages[(today - max(oldest, oldest_readable)).days] += 1
        elif view.synced_through is not None:
            counts["empty_reads"] += 1
        synced = newest if view.synced_through is None else max(view.synced_through, newest)
        return self._read_at(view.id, synced, view.access_granted_on, now)

    def _read_at(self, vid: UUID, synced: date, granted: date | None, now: datetime) -> VehicleView:
        # The next read depends on the stored state, so it is planned from that view.
        stored = VehicleView(
            id=vid, sync_state="ok", synced_through=synced, access_granted_on=granted
        )
        return VehicleView(
            id=vid,
            sync_state="ok",
            synced_through=synced,
            access_granted_on=granted,
            last_success_at=now,
            next_sync_at=next_read_at(
                stored, now, self.interval, margin_days=self.config.margin_days
            ),
        )

    def _failed(
        self, view: VehicleView, kind: FailureKind, retry_after: float, now: datetime
    ) -> VehicleView:
        self.counts[kind] += 1
        failures = view.consecutive_failures + 1
        told = retry_after if kind == "vehicle_throttle" else None
        at = next_read_after_failure(view, now, kind, told, failures, self.rng.random())
        return VehicleView(
            id=view.id,
            sync_state="throttled" if kind == "vehicle_throttle" else "retry_later",
            synced_through=view.synced_through,
            access_granted_on=view.access_granted_on,
            last_success_at=view.last_success_at,
            next_sync_at=at,
            not_before=at,
            consecutive_failures=failures,
        )

    def _result(self, last_day: date) -> SimulationResult:
        # Days that have already left the window unread by the end are lost too.
        for index, view in enumerate(self.views):
            first_readable = view.access_granted_on or last_day - _OLDEST_READABLE
            oldest = oldest_unread_day(view.synced_through, first_readable)
            lost = (last_day - _OLDEST_READABLE - oldest).days
            if lost > 0:
                self.counts["days_lost"] += lost
                self.lost_vehicle[index] = 1
        counts = self.counts
        return SimulationResult(
            config=self.config,
            read_interval_days=self.interval / timedelta(days=1),
            days_lost=counts["days_lost"],
            vehicles_with_loss=sum(self.lost_vehicle),
            calls=sum(self.calls_by_minute),
            reads=counts["reads"],
            empty_reads=counts["empty_reads"],
            transient_failures=counts["transient"],
            vehicle_throttles=counts["vehicle_throttle"],
            upstream_limits=counts["upstream_rate_limit"],
            avoidable_throttles=counts["avoidable"],
            app_rate_limited=counts["app_rate_limited"],
            app_pauses=counts["app_pauses"],
            max_calls_per_hour=_max_window(self.calls_by_minute, 60),
            max_calls_per_day=_max_window(self.calls_by_minute, 1440),
            data_age_median_days=_quantile(self.ages, 0.5),
            data_age_p95_days=_quantile(self.ages, 0.95),
            data_age_max_days=max((age for age, n in enumerate(self.ages) if n), default=0),
            min_slack_days=self.min_slack,
            max_backlog=self.max_backlog,
        )


def _ceil_to(value: int, step: int) -> int:
    return -(-value // step) * step


def _max_window(counts: array[int], width: int) -> int:
    running = sum(counts[:width])
    best = running
    for i in range(width, len(counts)):
        running += counts[i] - counts[i - width]
        best = max(best, running)
    return best


def _quantile(histogram: list[int], q: float) -> int:
    total = sum(histogram)
    if total == 0:
        return 0
    rank = math.ceil(q * total)
    seen = 0
    for value, n in enumerate(histogram):
        seen += n
        if seen >= rank:
            return value
    return len(histogram) - 1
