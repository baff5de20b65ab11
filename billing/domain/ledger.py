"""Reconciling a charge record with its line items, without ever touching a decided line.

The lines of a record must add up to what the record is worth now: in the target's currency
to the target's amount, in any other currency to zero, and their kWh to the record's home
kWh. While the charge line is the record's only line and still pending, it simply follows
the record. Once it is decided (approved or rejected), every difference goes to one pending
adjustment line per currency, linked to the charge line: an existing pending adjustment is
updated, otherwise a new one is created. A decided line is never changed, so an adjustment
may be negative, and a rejected line still counts in the record's sum: what it refused is
final, and only the difference to the new figure is put up for a new decision.

A price correction is the same reconciliation with the corrected tariffs; `preview_correction`
shows, line by line, what applying its plans would do.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, TypeAlias, assert_never
from uuid import UUID

from billing.domain.errors import Conflict, NotFound, StaleVersion
from billing.domain.pricing import (
    Priced,
    TariffRange,
    Unpriced,
    as_money,
    billing_period,
    cap_priced,
    price_day,
)

LineKind = Literal["charge", "adjustment"]
LineStatus = Literal["pending", "approved", "rejected"]
Target: TypeAlias = Priced | Unpriced | None


@dataclass(frozen=True, slots=True)
class LineState:
    """The money of an existing line item, as the ledger needs it."""

    id: UUID
    kind: LineKind
    status: LineStatus
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    tariff_id: UUID
    version: int
    adjusts_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class CreateCharge:
    """Insert the record's pending charge line with the figures of `priced`."""

    priced: Priced


@dataclass(frozen=True, slots=True)
class UpdatePending:
    """Set a pending line's figures, if its version is still `expected_version`; bump it."""

    line_id: UUID
    expected_version: int
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    tariff_id: UUID
    target: Priced | None


@dataclass(frozen=True, slots=True)
class CreateAdjustment:
    """Insert a pending adjustment for a difference (either sign), linked to the charge line.

    `unit_price` and `tariff_id` are those the record is now priced at (for a difference that
    returns an amount to zero, those of the line it offsets); the amount is the difference of
    rounded amounts and is not rounded again.
    """

    adjusts_id: UUID
    kwh_delta: Decimal
    unit_price: Decimal
    amount_delta: Decimal
    currency: str
    tariff_id: UUID
    target: Priced | None


Action: TypeAlias = CreateCharge | UpdatePending | CreateAdjustment


def reconcile(target: Target, lines: Sequence[LineState]) -> list[Action]:
    """The actions that make `lines` (in creation order) add up to `target`; none if they do.

    An unpriced target moves no money: existing lines keep their figures and the caller
    reports the record as unpriced.
    """
    if isinstance(target, Unpriced):
        return []
    if not lines:
        return [] if target is None else [CreateCharge(target)]
    charges = [line for line in lines if line.kind == "charge"]
    if len(charges) != 1:
        raise ValueError(f"a record's lines hold exactly one charge line, not {len(charges)}")
    charge = charges[0]
    if charge.status == "pending":
        # Adjustments are only ever made for a decided charge line, and decisions are final.
        if len(lines) > 1:
            raise ValueError(f"charge line {charge.id} is pending but has adjustments")
        return _follow(charge, target)
    currencies = {line.currency for line in lines}
    if target is not None:
        currencies.add(target.currency)
    actions: list[Action] = []
    for currency in sorted(currencies):
        bucket = [line for line in lines if line.currency == currency]
        actions.extend(_settle(currency, bucket, charge, target))
    return actions


def _follow(charge: LineState, target: Priced | None) -> list[Action]:
    if target is None:
        update = _update(charge, None, Decimal(0), _zero(charge.currency))
    else:
        price = (target.unit_price, target.tariff_id)
        update = _update(charge, target, target.kwh, target.amount, price, target.currency)
    return [update] if _changes(charge, update) else []


def _settle(
    currency: str, bucket: list[LineState], charge: LineState, target: Priced | None
) -> list[Action]:
    if target is not None and target.currency == currency:
        want_kwh, want_amount = target.kwh, target.amount
        price: tuple[Decimal, UUID] | None = (target.unit_price, target.tariff_id)
    else:
        want_kwh, want_amount, price = Decimal(0), _zero(currency), None
    pending = [line for line in bucket if line.status == "pending"]
    decided = [line for line in bucket if line.status != "pending"]
    kwh = want_kwh - sum((line.kwh for line in decided), Decimal(0))
    amount = want_amount - _sum(decided, currency)
    if not pending:
        if kwh == 0 and amount == 0:
            return []
        # Returning a currency to zero: the offset carries the price of what it offsets.
        unit_price, tariff_id = price or (bucket[-1].unit_price, bucket[-1].tariff_id)
        return [
            CreateAdjustment(
                adjusts_id=charge.id,
                kwh_delta=kwh,
                unit_price=unit_price,
                amount_delta=amount,
                currency=currency,
                tariff_id=tariff_id,
                target=target,
            )
        ]
    # One pending adjustment per currency carries the difference. More than one only arises
    # when two runs raced; the extra ones are set to zero, which heals the sum.
    *extras, carrier = pending
    updates = [_update(x, target, Decimal(0), _zero(currency)) for x in extras]
    updates.append(_update(carrier, target, kwh, amount, price))
    return [u for u, line in zip(updates, pending, strict=True) if _changes(line, u)]


def _update(
    line: LineState,
    target: Priced | None,
    kwh: Decimal,
    amount: Decimal,
    price: tuple[Decimal, UUID] | None = None,
    currency: str | None = None,
) -> UpdatePending:
    unit_price, tariff_id = price or (line.unit_price, line.tariff_id)
    return UpdatePending(
        line_id=line.id,
        expected_version=line.version,
        kwh=kwh,
        unit_price=unit_price,
        amount=amount,
        currency=currency or line.currency,
        tariff_id=tariff_id,
        target=target,
    )


def _changes(line: LineState, update: UpdatePending) -> bool:
    before = (line.kwh, line.unit_price, line.amount, line.currency, line.tariff_id)
    after = (update.kwh, update.unit_price, update.amount, update.currency, update.tariff_id)
    return before != after


def _zero(currency: str) -> Decimal:
    return as_money(Decimal(0), currency)


def _sum(lines: Sequence[LineState], currency: str) -> Decimal:
    # as_money refuses an amount with more decimals than the currency has, which would
    # otherwise leak into every difference computed from it.
    return sum((as_money(line.amount, currency) for line in lines), _zero(currency))


def apply(
    lines: Sequence[LineState], actions: Sequence[Action], *, new_id: Callable[[], UUID]
) -> list[LineState]:
    """`lines` after `actions`, as the database would hold them; new lines get `new_id()`."""
    result = list(lines)
    for action in actions:
        match action:
            case CreateCharge(priced=p):
                if any(line.kind == "charge" for line in result):
                    raise Conflict("the record already has a charge line")
                line = LineState(
                    id=new_id(),
                    kind="charge",
                    status="pending",
                    kwh=p.kwh,
                    unit_price=p.unit_price,
                    amount=p.amount,
                    currency=p.currency,
                    tariff_id=p.tariff_id,
                    version=1,
                )
                result.append(line)
            case UpdatePending():
                found = [i for i, line in enumerate(result) if line.id == action.line_id]
                if not found:
                    raise NotFound(f"the record has no line {action.line_id}")
                line = result[found[0]]
                if line.status != "pending":
                    raise Conflict(f"line {line.id} is {line.status}; its money cannot change")
                if line.version != action.expected_version:
                    raise StaleVersion()
                result[found[0]] = dataclasses.replace(
                    line,
                    kwh=action.kwh,
                    unit_price=action.unit_price,
                    amount=action.amount,
                    currency=action.currency,
                    tariff_id=action.tariff_id,
                    version=line.version + 1,
                )
            case CreateAdjustment():
                line = LineState(
                    id=new_id(),
                    kind="adjustment",
                    status="pending",
                    kwh=action.kwh_delta,
                    unit_price=action.unit_price,
                    amount=action.amount_delta,
                    currency=action.currency,
                    tariff_id=action.tariff_id,
                    version=1,
                    adjusts_id=action.adjusts_id,
                )
                result.append(line)
            case _:
                assert_never(action)
    return result


# Price corrections


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
