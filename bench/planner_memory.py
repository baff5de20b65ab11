"""Resident memory and time of the sync planner over a fleet of 50,000 vehicles.

Builds one `VehicleView` per vehicle (a realistic mix of states, back-offs and schedules),
then plans repeatedly as the worker would, one tick a minute, and prints the resident set
size (VmRSS, and the peak VmHWM, from /proc/self/status) at each stage.

    python bench/planner_memory.py [--vehicles 50000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from billing.domain.models import SyncState
from billing.domain.planner import VehicleView, at_risk, is_due, plan, today_of

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
STATES: list[tuple[SyncState, float]] = [
    ("ok", 0.86),
    ("new", 0.02),
    ("retry_later", 0.04),
    ("throttled", 0.01),
    ("failed", 0.01),
    ("needs_reauth", 0.03),
    ("owner_action", 0.02),
    ("not_capable", 0.01),
]


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak, peak


def report(stage: str) -> None:
    current, peak = rss_mb()
    print(f"{stage:<40} VmRSS {current:7.1f} MB   peak {peak:7.1f} MB", flush=True)


def fleet(n: int, rng: random.Random) -> list[VehicleView]:
    states = [state for state, _ in STATES]
    weights = [weight for _, weight in STATES]
    today = NOW.date()
    views = []
    for _ in range(n):
        state = rng.choices(states, weights)[0]
        never_read = state == "new"
        last = NOW - timedelta(seconds=rng.randrange(1, 24 * 86_400))
        backing_off = state in ("retry_later", "throttled", "failed")
        views.append(
            VehicleView(
                id=UUID(int=rng.getrandbits(128)),
                sync_state=state,
                synced_through=None if never_read else last.date() - timedelta(days=1),
                access_granted_on=today - timedelta(days=rng.randrange(0, 400)),
                last_success_at=None if never_read else last,
                next_sync_at=None
                if never_read
                else NOW + timedelta(seconds=rng.randrange(-3600, 20 * 86_400)),
                not_before=NOW + timedelta(seconds=rng.randrange(0, 7200)) if backing_off else None,
                consecutive_failures=rng.randrange(1, 6) if backing_off else 0,
            )
        )
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--tokens", type=float, default=120.0, help="tokens available per tick")
    args = parser.parse_args()

    report("start")
    views = fleet(args.vehicles, random.Random(1))
    report(f"{len(views):,} vehicle views built")

    # A normal day (a few vehicles due each tick), then the worst case: the worker was down
    # for three weeks and nearly the whole fleet is due at once.
    for label, start in [("normal", NOW), ("after a 3-week outage", NOW + timedelta(days=21))]:
        due = sum(is_due(view, start) for view in views)
        started = time.perf_counter()
        for tick in range(args.ticks):
            plan(views, start + timedelta(minutes=tick), args.tokens)
        per_call_ms = (time.perf_counter() - started) / args.ticks * 1000
        report(f"{args.ticks} plans, {label}")
        print(f"  {due:,} of {len(views):,} due: {per_call_ms:.1f} ms per plan", flush=True)
    risky = sum(at_risk(view, today_of(NOW)) for view in views)
    report("at_risk over the fleet")
    print(f"  {risky:,} vehicles at risk")


if __name__ == "__main__":
    main()
