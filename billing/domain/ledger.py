"""Reconciling a charge record with its line items, without ever touching a decided line.

While the charge line is the record's only line and still pending, it simply follows the
record. Once it is decided (approved or rejected), decisions are final in both directions
and a difference goes to one pending adjustment line per currency, linked to the charge
line: an existing pending adjustment is updated, otherwise a new one is created.

The rule, for each currency of the record's lines and of its target, over the decided lines:

    paid    A = the sum of the approved amounts: what the employee was paid for the record;
    refused R = the sum of the rejected positive amounts: payments a manager refused;
    kept    K = minus the sum of the rejected negative amounts: claw-backs a manager refused;
    value   T = the target's amount in its currency, zero in any other (a pending charge line
                or a record gone upstream has no other figure).

The record is settled while A lies in the settled range [max(0, T - R), T + K]: paid no more
than it is worth now, plus the claw-backs refused, and no less than it is worth less the
payments refused, never below zero. The pending adjustment is the smallest move that
settles it:

    P = clamp(A, max(0, T - R), T + K) - A

zero while A is in the range, else the distance to its nearest end. kWh follow the same rule
with the lines' kWh. What this means, in the words of the reimbursement rules:

- With nothing rejected (R = K = 0), A + P = T: the lines add up to the current value.
- What was approved is what was paid, and a rejected amount was never paid: a claw-back only
  ever takes back paid money, never more than was approved (A + P >= 0), and a rejected
  payment is not put up again unless the value rises past A + R.
- A refused claw-back is not paid out again when the figure returns: money is only put up
  when the value exceeds A + R, and the money kept counts as paid.
- Approving the pending adjustment makes A settled: then 0 <= A <= T + K, so the approved
  total exceeds the current value only by claw-backs a manager refused (and falls short of it
  only by payments a manager refused, R). Between a restatement and the decision on its
  adjustment, A is what was approved before; the rule applies to A + P.
- A refusal stands for the record's life: R and K only grow, as decided lines never change.
  So a claw-back once refused leaves the employee up to K above the value for good (a later
  rise that was paid can fall back by K before anything is taken back), and a payment once
  refused keeps the record up to R below it.
- A decided line is never changed; every amount here is a sum or difference of amounts
  already rounded to the currency's minor unit, so nothing is rounded again.

A price correction is the same reconciliation with the corrected tariffs: see
`billing.domain.repricing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias, assert_never
from uuid import UUID

from billing.domain.errors import Conflict, NotFound, StaleVersion
from billing.domain.pricing import (
    Priced,
    Unpriced,
    as_money,
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
    kwh = settling_move(want_kwh, [(x.status, x.kwh) for x in decided])
    # as_money refuses an amount with more decimals than the currency has, which would
    # otherwise leak into every difference computed from it.
    money = [(x.status, as_money(x.amount, currency)) for x in decided]
    amount = settling_move(want_amount, money) + _zero(currency)
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


def settling_move(value: Decimal, decided: Sequence[tuple[LineStatus, Decimal]]) -> Decimal:
    """P of the module's rule: what the pending line must hold, given the value T and the
    (status, figure) of the decided lines."""
    paid = sum((x for status, x in decided if status == "approved"), Decimal(0))
    refused = sum((x for status, x in decided if status == "rejected" and x > 0), Decimal(0))
    kept = -sum((x for status, x in decided if status == "rejected" and x < 0), Decimal(0))
    low, high = max(Decimal(0), value - refused), value + kept
    return min(max(paid, low), high) - paid


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
