"""Largest fleet the sync planner keeps whole over 90 days with the default Smartcar bucket.

Bisects the fleet size in the deterministic simulation (`billing.fleet_simulation`)
for two criteria and prints each next to the theoretical bound:

- zero days lost: no day of any vehicle leaves the 30-day window unread;
- margin kept: additionally every read happens with the full safety margin to spare.

    python bench/planner_capacity.py [--start staggered|connected] [--days 90] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

from billing.domain.window import HISTORY_DAYS
from billing.fleet_simulation import (
    SimulationConfig,
    SimulationResult,
    simulate,
    theoretical_bound,
)

Criterion = Callable[[SimulationResult], bool]


def zero_loss(result: SimulationResult) -> bool:
    return result.days_lost == 0


def margin_kept(result: SimulationResult) -> bool:
    return result.days_lost == 0 and result.min_slack_days >= result.config.margin_days


def probe(base: SimulationConfig, vehicles: int) -> SimulationResult:
    started = time.perf_counter()
    result = simulate(replace(base, vehicles=vehicles))
    print(
        f"  {vehicles:>7,} vehicles: lost {result.days_lost:>6,} days"
        f" on {result.vehicles_with_loss:>6,} vehicles, min slack {result.min_slack_days:>3} d,"
        f" calls {result.calls:>7,} ({result.transient_failures + result.vehicle_throttles:,}"
        f" failed), max backlog {result.max_backlog:>6,}"
        f"  [{time.perf_counter() - started:.1f} s]",
        flush=True,
    )
    return result


def largest(base: SimulationConfig, ok: Criterion, low: int, high: int, resolution: int) -> int:
    """Largest fleet size in [low, high) that satisfies `ok`, assuming it is monotone."""
    if not ok(probe(base, low)):
        raise SystemExit(f"even {low:,} vehicles fail; lower --low")
    while ok(probe(base, high)):
        low, high = high, high * 2
    while high - low > resolution:
        middle = (low + high) // 2
        if ok(probe(base, middle)):
            low = middle
        else:
            high = middle
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", choices=["staggered", "connected"], default="staggered")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.03)
    parser.add_argument("--resolution", type=int, default=250, help="bisection stops here")
    args = parser.parse_args()

    base = SimulationConfig(
        vehicles=1,
        days=args.days,
        seed=args.seed,
        start=args.start,
        fault_rate=args.fault_rate,
    )
    bound = theoretical_bound(base)
    per_day = base.per_minute * 1440
    ceiling = round(per_day * (HISTORY_DAYS - 1)) + base.burst
    print(
        f"bucket {base.burst} burst, {base.per_minute:g}/min = {per_day:,.0f} calls/day;"
        f" faults {base.fault_rate:.1%} transient, {base.throttle_rate:.1%} vehicle throttles,"
        f" {base.upstream_limit_rate:.1%} upstream rate limits; margin {base.margin_days} days;"
        f" start {base.start}; {base.days} days; seed {base.seed}"
    )
    print(
        f"theoretical bound = per_minute x 1440 x (30 - margin)"
        f" = {base.per_minute:g} x 1440 x {HISTORY_DAYS - base.margin_days} = {bound:,} vehicles"
    )
    print(
        f"hard ceiling (a read every 29 days, no faults) = {per_day:,.0f} x 29 + {base.burst}"
        f" = {ceiling:,} vehicles"
    )
    started = time.perf_counter()
    found: dict[str, int] = {}
    for name, criterion, low in [
        ("zero days lost", zero_loss, round(bound * 0.9)),
        ("margin kept", margin_kept, round(bound * 0.8)),
    ]:
        print(f"{name}:", flush=True)
        found[name] = largest(base, criterion, low, ceiling, args.resolution)
    print()
    for name, vehicles in found.items():
        print(
            f"{name:>15}: {vehicles:>7,} vehicles = {vehicles / bound:.1%} of the bound"
            f" ({vehicles / ceiling:.1%} of the hard ceiling)"
        )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
