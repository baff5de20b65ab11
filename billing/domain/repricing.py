"""Price corrections: re-pricing an employee's records with corrected tariffs, each against
its lines by the ledger's rule (`billing.domain.ledger`), and the preview of what that does.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import assert_never
from uuid import UUID

from billing.domain.ledger import (
    Action,
    CreateAdjustment,
    CreateCharge,
    LineKind,
    LineState,
    Target,
    UpdatePending,
    apply,
    reconcile,
)
from billing.domain.pricing import (
    Priced,
    TariffRange,
    Unpriced,
    billing_period,
    cap_priced,
    price_day,
)


@dataclass(frozen=True, slots=True)
class RecordLedger:
    """A charge record's day and home kWh with its lines (in creation order)."""

    record_id: UUID
    charge_date: date
    home_kwh: Decimal
    lines: tuple[LineState, ...]


@dataclass(frozen=True, slots=True)
class RecordPlan:
    record_id: UUID
    target: Target
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class LineChange:
    """One line a plan touches, with its new figures; `was` is the line before (None if new).

    A pending charge line that follows its record into another currency is the one change
    whose old and new currencies differ.
    """

    record_id: UUID
    line_id: UUID | None
    kind: LineKind
    currency: str
    amount: Decimal
    unit_price: Decimal
    was: LineState | None


@dataclass(frozen=True, slots=True)
class CorrectionPreview:
    """What a correction would do: its plans, every line it touches, the total per currency.

    `unpriced` lists the records with home kWh that no tariff covers; their lines stay as
    they are.
    """

    plans: tuple[RecordPlan, ...]
    changes: tuple[LineChange, ...]
    totals: tuple[tuple[str, Decimal], ...]
    unpriced: tuple[UUID, ...]


def plan_repricing(
    records: Sequence[RecordLedger],
    tariffs: Sequence[TariffRange],
    *,
    monthly_cap: Decimal | None = None,
) -> tuple[RecordPlan, ...]:
    """Re-price one employee's records with `tariffs`, in date order, each against its lines.

    With a cap, `records` must be all of the employee's records in the periods concerned,
    since the cap is filled in date order (see `billing.domain.pricing`): a day's target
    depends on what the days before it are paid once their own plans are applied.
    """
    if len({r.record_id for r in records}) != len(records):
        raise ValueError("each record may appear only once")
    # What the records planned so far are paid, per period and currency: the cap's fill.
    paid: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    # Lines a plan creates get stand-in ids: only their amounts are looked at here.
    counter = itertools.count(1)
    plans: list[RecordPlan] = []
    for r in sorted(records, key=lambda r: (r.charge_date, str(r.record_id))):
        period = billing_period(r.charge_date)
        target = price_day(r.home_kwh, r.charge_date, tariffs)
        if isinstance(target, Priced) and monthly_cap is not None:
            target = cap_priced(target, paid[period, target.currency], monthly_cap)
        actions = reconcile(target, r.lines)
        after = apply(r.lines, actions, new_id=lambda: UUID(int=next(counter)))
        for line in after:
            if line.status != "rejected":
                paid[period, line.currency] += line.amount
        plans.append(RecordPlan(r.record_id, target, tuple(actions)))
    return tuple(plans)


def preview_correction(
    records: Sequence[RecordLedger],
    tariffs: Sequence[TariffRange],
    *,
    monthly_cap: Decimal | None = None,
) -> CorrectionPreview:
    """What re-pricing `records` with the corrected `tariffs` would change, line by line.

    Applying `plans` of the result does exactly what `changes` describe.
    """
    plans = plan_repricing(records, tariffs, monthly_cap=monthly_cap)
    lines_by_id = {line.id: line for r in records for line in r.lines}
    changes: list[LineChange] = []
    for plan in plans:
        for action in plan.actions:
            changes.append(_describe(plan.record_id, action, lines_by_id))
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for change in changes:
        totals[change.currency] += change.amount
        if change.was is not None:
            totals[change.was.currency] -= change.was.amount
    return CorrectionPreview(
        plans=plans,
        changes=tuple(changes),
        totals=tuple(sorted(totals.items())),
        unpriced=tuple(p.record_id for p in plans if isinstance(p.target, Unpriced)),
    )


def _describe(record_id: UUID, action: Action, lines: dict[UUID, LineState]) -> LineChange:
    match action:
        case CreateCharge(priced=p):
            return LineChange(record_id, None, "charge", p.currency, p.amount, p.unit_price, None)
        case UpdatePending():
            was = lines[action.line_id]
            return LineChange(
                record_id, was.id, was.kind, action.currency, action.amount, action.unit_price, was
            )
        case CreateAdjustment():
            return LineChange(
                record_id,
                None,
                "adjustment",
                action.currency,
                action.amount_delta,
                action.unit_price,
                None,
            )
        case _:
            assert_never(action)
