"""The ledger's test vocabulary: line helpers and the invariant every reconciled record keeps."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from billing.domain.currencies import minor_unit
from billing.domain.ledger import (
    CreateAdjustment,
    CreateCharge,
    LineState,
    LineStatus,
    Target,
    UpdatePending,
    apply,
    reconcile,
)
from billing.domain.pricing import Priced, TariffRange, Unpriced, price_day, round_money
from billing.domain.repricing import CorrectionPreview, RecordLedger

D = Decimal
EMPLOYEE = UUID(int=1)
DAY = date(2024, 5, 31)


def ids(start: int = 1) -> Callable[[], UUID]:
    counter = itertools.count(start)
    return lambda: UUID(int=next(counter))


def tariff(
    n: int,
    price: str,
    valid_from: date = date(2024, 1, 1),
    valid_to: date | None = None,
    *,
    employee: UUID | None = None,
    currency: str = "EUR",
) -> TariffRange:
    return TariffRange(UUID(int=1000 + n), employee, D(price), currency, valid_from, valid_to)


def decide(lines: Sequence[LineState], line_id: UUID, status: LineStatus) -> list[LineState]:
    assert status != "pending"
    return [
        dataclasses.replace(x, status=status, version=x.version + 1) if x.id == line_id else x
        for x in lines
    ]


def totals(lines: Sequence[LineState]) -> dict[str, Decimal]:
    sums: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        sums[line.currency] += line.amount
    return {c: a for c, a in sums.items() if a != 0}


def assert_money(amount: Decimal, currency: str) -> None:
    quantum = Decimal(1).scaleb(-minor_unit(currency))
    assert amount == amount.quantize(quantum)
    assert amount.as_tuple().exponent == -minor_unit(currency), (amount, currency)


@dataclass(frozen=True)
class Standing:
    """One figure (an amount in one currency, or kWh) of a record, as its lines stand."""

    value: Decimal  # T: what the record is worth now
    approved: Decimal  # A: what was paid
    pending: Decimal  # P: what the pending lines would add
    refused: Decimal  # R: rejected payments
    kept: Decimal  # K: rejected claw-backs

    @property
    def if_approved(self) -> Decimal:
        return self.approved + self.pending


def standing(
    value: Decimal, lines: Sequence[LineState], figure: Callable[[LineState], Decimal]
) -> Standing:
    def total(status: LineStatus, sign: int = 0) -> Decimal:
        chosen = [figure(x) for x in lines if x.status == status]
        return sum((x for x in chosen if sign == 0 or x * sign > 0), D(0))

    return Standing(
        value,
        total("approved"),
        total("pending"),
        total("rejected", 1),
        -total("rejected", -1),
    )


def standings(target: Target, lines: Sequence[LineState]) -> list[Standing]:
    """The record's figures: each currency's money, then its kWh (over all currencies)."""
    assert not isinstance(target, Unpriced)
    result = []
    for currency in sorted({x.currency for x in lines} | ({target.currency} if target else set())):
        value = target.amount if target is not None and target.currency == currency else D(0)
        in_currency = [x for x in lines if x.currency == currency]
        result.append(standing(value, in_currency, lambda x: x.amount))
        kwh = target.kwh if target is not None and target.currency == currency else D(0)
        result.append(standing(kwh, in_currency, lambda x: x.kwh))
    return result


def assert_settled(s: Standing) -> None:
    """What a record's figure may be, once reconciled (see billing.domain.ledger).

    - 0 <= A + P: a claw-back never takes back more than was approved (so nothing that was
      only ever rejected is clawed back);
    - A + P <= T + K: what is or would be paid exceeds the current value only by claw-backs
      a manager refused; with none refused, the approved total once the pending line is
      approved lies between 0 and the current value;
    - A + P >= T - R: it falls short of the value only by payments a manager refused;
    - money is only put up when the record is worth more than was paid (P > 0 only if
      T > A), only taken back when it was paid more than it is worth (P < 0 only if A > T),
      and never past the value (|P| <= |T - A|): a refused claw-back is not paid out again
      when the figure returns, a rejected payment is not put up again;
    - with nothing rejected (R = K = 0) the lines add up to the value exactly.
    """
    a_p = s.if_approved
    assert a_p >= 0, s
    assert a_p <= s.value + s.kept, s
    assert a_p >= s.value - s.refused, s
    assert s.pending <= 0 or s.value > s.approved, s
    assert s.pending >= 0 or s.approved > s.value, s
    assert abs(s.pending) <= abs(s.value - s.approved), s
    if s.refused == s.kept == 0:
        assert a_p == s.value, s


def assert_balanced(target: Target, lines: Sequence[LineState]) -> None:
    """The invariant of a reconciled record's lines, in kWh and every currency's money."""
    assert not isinstance(target, Unpriced)
    for line in lines:
        assert_money(line.amount, line.currency)
    charges = [x for x in lines if x.kind == "charge"]
    assert len(charges) == (1 if lines else 0)
    assert all(x.adjusts_id == charges[0].id for x in lines if x.kind == "adjustment")
    assert all(x.kwh >= 0 and x.amount >= 0 for x in charges)
    if target is not None:
        assert target.amount + target.cap_cut == round_money(
            target.kwh * target.unit_price, target.currency
        )
    for s in standings(target, lines):
        assert_settled(s)


def step(target: Target, lines: Sequence[LineState], new_id: Callable[[], UUID]) -> list[LineState]:
    """Reconcile, check the actions, apply them, check the invariant and idempotency."""
    actions = reconcile(target, lines)
    by_id = {x.id: x for x in lines}
    for action in actions:
        match action:
            case UpdatePending():
                assert by_id[action.line_id].status == "pending"
                assert action.expected_version == by_id[action.line_id].version
                assert_money(action.amount, action.currency)
            case CreateAdjustment():
                assert action.adjusts_id in by_id
                assert_money(action.amount_delta, action.currency)
            case CreateCharge():
                assert not lines
                assert_money(action.priced.amount, action.priced.currency)
    after = apply(lines, actions, new_id=new_id)
    if isinstance(target, Unpriced):
        assert actions == []
    else:
        assert_balanced(target, after)
    assert reconcile(target, after) == []
    return after


def charge(amount: str, kwh: str, *, status: LineStatus = "pending", n: int = 1) -> LineState:
    return LineState(
        id=UUID(int=n),
        kind="charge",
        status=status,
        kwh=D(kwh),
        unit_price=D("0.300000"),
        amount=D(amount),
        currency="EUR",
        tariff_id=UUID(int=1001),
        version=1 if status == "pending" else 2,
    )


def priced(kwh: str, price: str = "0.30", currency: str = "EUR", n: int = 1) -> Priced:
    target = price_day(D(kwh), DAY, [tariff(n, price, currency=currency)])
    assert isinstance(target, Priced)
    return target


def assert_preview_is_applied(
    preview: CorrectionPreview, records: Sequence[RecordLedger], new_id: Callable[[], UUID]
) -> list[RecordLedger]:
    """Applying the plans does exactly what the preview shows, line by line."""
    by_id = {r.record_id: r for r in records}
    assert sorted(p.record_id for p in preview.plans) == sorted(by_id)
    diff: defaultdict[str, Decimal] = defaultdict(Decimal)
    result = []
    for plan in preview.plans:
        before = by_id[plan.record_id].lines
        after = apply(before, plan.actions, new_id=new_id)
        changes = [c for c in preview.changes if c.record_id == plan.record_id]
        old = {x.id: x for x in before}
        updated = {c.line_id: c for c in changes if c.line_id is not None}
        for line in after[: len(before)]:
            if line.id in updated:
                c = updated.pop(line.id)
                assert c.was == old[line.id]
                assert c.kind == line.kind
                assert (c.currency, c.amount, c.unit_price) == (
                    line.currency,
                    line.amount,
                    line.unit_price,
                )
            else:
                assert line == old[line.id]
        assert updated == {}
        created = [(c.kind, c.currency, c.amount, c.unit_price) for c in changes if c.was is None]
        assert created == [
            (x.kind, x.currency, x.amount, x.unit_price) for x in after[len(before) :]
        ]
        for currency in {x.currency for x in [*before, *after]}:
            diff[currency] += sum((x.amount for x in after if x.currency == currency), D(0))
            diff[currency] -= sum((x.amount for x in before if x.currency == currency), D(0))
        result.append(dataclasses.replace(by_id[plan.record_id], lines=tuple(after)))
    assert {c: a for c, a in preview.totals if a} == {c: a for c, a in diff.items() if a}
    return result
