"""A deterministic simulation of the sync planner against the Smartcar budget, in virtual time.

The scheduler does what the worker does: every tick it takes whole tokens from the shared
bucket (`bucket.take_up_to`), reads that many due vehicles (`is_due`) in `priority_key`
order, and schedules each with `next_read_at` (the pacing of `next_read_after_success`) or
`next_read_after_failure`. The bucket is `billing.domain.bucket`, which
tests/integration/test_budget_equivalence.py proves equal, step for step, to the budget SQL
the worker runs; a read completes within its tick, so no call is in flight when the next
take settles. The upstream is modelled on its own (its own copy of the application bucket,
per-vehicle throttles, transient faults, upstream rate limits, optional global pauses), so a
call the real Smartcar would refuse is counted, not assumed away.

A read on day D returns every day from max(oldest unread, D - 29) and stores days through
D - 1 (D is not over yet); a day is lost when it leaves the window unread. Time jumps from
tick to tick, and over ticks where nothing can happen, so a 90-day run of tens of thousands
of vehicles takes seconds. The same config gives the same result every run.
"""

from billing.fleet_simulation.run import simulate
from billing.fleet_simulation.scenario import (
    START_AT,
    SimulationConfig,
    SimulationResult,
    Start,
    theoretical_bound,
)

__all__ = [
    "START_AT",
    "SimulationConfig",
    "SimulationResult",
    "Start",
    "simulate",
    "theoretical_bound",
]
