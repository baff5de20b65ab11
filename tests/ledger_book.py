"""Random histories of one employee's records: restatements, decisions, re-runs, corrections.

`Book` holds the records and their lines as the database would, applies each step with the
pure ledger and checks after every one that each record is settled (`assert_balanced`), no
decided line ever changed and reconciling again does nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from hypothesis import strategies as st

from billing.domain.ledger import LineState, LineStatus, Target, reconcile
from billing.domain.pricing import Priced, TariffRange, Unpriced, cap_priced, price_day
from billing.domain.repricing import RecordLedger, plan_repricing, preview_correction
from tests.ledger_support import (
    EMPLOYEE,
    assert_balanced,
    assert_preview_is_applied,
    decide,
    ids,
    step,
)

D = Decimal

START = date(2024, 1, 27)  # through a month end, a leap day and another month end
SPAN = 40
CURRENCIES = ("EUR", "JPY", "KWD")

prices = st.one_of(
    st.decimals(min_value=0, max_value=D(2), places=6),
    st.decimals(min_value=0, max_value=D("999.999999"), places=6),
)
energies = st.one_of(
    st.just(D("0.0000")),
    st.decimals(min_value=0, max_value=D(150), places=4),
    st.decimals(min_value=0, max_value=D(150), places=4),
    st.decimals(min_value=0, max_value=D("0.1"), places=4),  # amounts near zero
)


@st.composite
def tariff_sets(draw: st.DrawFn) -> list[TariffRange]:
    """Non-overlapping ranges per scope, with gaps, mostly in one currency."""
    main = draw(st.sampled_from(CURRENCIES))
    result: list[TariffRange] = []
    for scope in (EMPLOYEE, None):
        # the fleet default mostly covers the window from its start, the employee's not
        first = [0] if scope is None and draw(st.integers(0, 3)) else []
        cuts = sorted({*first, *draw(st.sets(st.integers(0, SPAN), max_size=4))})
        for i, start in enumerate(cuts):
            if draw(st.integers(0, 4)) == 0:
                continue  # a gap
            if i + 1 < len(cuts):
                end: int | None = cuts[i + 1]
            else:
                end = draw(st.none() | st.none() | st.integers(start + 1, SPAN + 5))
            # ids repeat across sets half the time: a correction may change a price in place
            result.append(
                TariffRange(
                    id=UUID(int=1000 + len(result) + 100 * draw(st.integers(0, 1))),
                    employee_id=scope,
                    price_per_kwh=draw(prices),
                    currency=draw(st.sampled_from((main, main, main, *CURRENCIES))),
                    valid_from=START + timedelta(days=start),
                    valid_to=None if end is None else START + timedelta(days=end),
                )
            )
    return result


@dataclass(frozen=True)
class Restate:
    record: int
    kwh: Decimal


@dataclass(frozen=True)
class Decide:
    record: int
    line: int
    status: LineStatus


@dataclass(frozen=True)
class Correct:
    tariffs: list[TariffRange]


@dataclass(frozen=True)
class Rerun:
    record: int


Op = Restate | Decide | Correct | Rerun

records_strategy = st.lists(st.tuples(st.integers(0, SPAN + 3), energies), min_size=1, max_size=4)


def ops(*, corrections: bool = True) -> st.SearchStrategy[list[Op]]:
    restate = st.builds(Restate, st.integers(0, 3), energies)
    decide = st.builds(
        Decide, st.integers(0, 3), st.integers(0, 3), st.sampled_from(["approved", "rejected"])
    )
    # restatements and decisions twice as often as re-runs and corrections
    choices: list[st.SearchStrategy[Op]] = [restate, restate, decide, decide]
    choices.append(st.builds(Rerun, st.integers(0, 3)))
    if corrections:
        choices.append(st.builds(Correct, tariff_sets()))
    return st.lists(st.one_of(choices), max_size=16)


def order(r: RecordLedger) -> tuple[date, str]:
    return (r.charge_date, str(r.record_id))


@dataclass
class Book:
    """One employee's records and their lines, as the database would hold them.

    Without a cap each record is reconciled on its own; with one, the whole period is
    re-priced, as the cap is filled in date order.
    """

    tariffs: list[TariffRange]
    records: list[RecordLedger]
    cap: Decimal | None = None
    new_id: Callable[[], UUID] = field(default_factory=lambda: ids(10_000))
    frozen: dict[UUID, LineState] = field(default_factory=dict)
    refused_clawback: bool = False
    unpriced_with_lines: bool = False

    def paid(self, period: str, currency: str, *, before: RecordLedger | None = None) -> Decimal:
        """Pending and approved amounts of the period, or of its days before `before`."""
        return sum(
            (
                x.amount
                for r in self.records
                if f"{r.charge_date:%Y-%m}" == period
                and (before is None or order(r) < order(before))
                for x in r.lines
                if x.currency == currency and x.status != "rejected"
            ),
            D(0),
        )

    def target(self, i: int) -> Target:
        r = self.records[i]
        target = price_day(r.home_kwh, r.charge_date, self.tariffs)
        if isinstance(target, Priced) and self.cap is not None:
            return cap_priced(target, self.paid(target.period, target.currency, before=r), self.cap)
        return target

    def reconcile(self, i: int) -> None:
        if self.cap is not None:
            self.reprice(self.tariffs)
            return
        r = self.records[i]
        lines = step(self.target(i), r.lines, self.new_id)
        self.records[i] = dataclasses.replace(r, lines=tuple(lines))
        self.check_frozen()

    def reprice(self, tariffs: list[TariffRange]) -> None:
        preview = preview_correction(self.records, tariffs, monthly_cap=self.cap)
        applied = assert_preview_is_applied(preview, self.records, self.new_id)
        for plan, record in zip(preview.plans, applied, strict=True):
            if not isinstance(plan.target, Unpriced):
                assert_balanced(plan.target, record.lines)
        by_id = {r.record_id: r for r in applied}
        self.unpriced_with_lines |= any(
            isinstance(p.target, Unpriced) and by_id[p.record_id].lines for p in preview.plans
        )
        self.tariffs = tariffs
        self.records = [by_id[r.record_id] for r in self.records]
        self.check_frozen()
        # re-pricing again changes nothing, and each record's target is what it would be alone
        again = plan_repricing(self.records, tariffs, monthly_cap=self.cap)
        assert [p.actions for p in again] == [() for _ in again]
        targets = {p.record_id: p.target for p in again}
        assert [self.target(i) for i in range(len(self.records))] == [
            targets[r.record_id] for r in self.records
        ]

    def check_frozen(self) -> None:
        for r in self.records:
            for line in r.lines:
                if line.id in self.frozen:
                    assert line == self.frozen[line.id]
                elif line.status != "pending":
                    self.frozen[line.id] = line

    def run(self, op: Op) -> None:
        match op:
            case Restate(record=i, kwh=kwh):
                i %= len(self.records)
                self.records[i] = dataclasses.replace(self.records[i], home_kwh=kwh)
                self.reconcile(i)
            case Decide(record=i, line=k, status=status):
                i %= len(self.records)
                r = self.records[i]
                pending = [x for x in r.lines if x.status == "pending"]
                if not pending:
                    return
                line = pending[k % len(pending)]
                self.refused_clawback |= status == "rejected" and line.amount < 0
                before = self.target(i)
                lines = decide(r.lines, line.id, status)
                self.records[i] = dataclasses.replace(r, lines=tuple(lines))
                self.check_frozen()
                # a decision never changes what its own record is worth
                assert self.target(i) == before
                if self.cap is None:
                    assert reconcile(before, lines) == []
            case Correct(tariffs=tariffs):
                self.reprice(tariffs)
            case Rerun(record=i):
                i %= len(self.records)
                if self.cap is None:
                    # without a cap, nothing outside the record changes its target
                    assert reconcile(self.target(i), self.records[i].lines) == []
                self.reconcile(i)


def new_book(
    tariffs: list[TariffRange], records: list[tuple[int, Decimal]], cap: Decimal | None = None
) -> Book:
    book = Book(
        tariffs,
        [
            RecordLedger(UUID(int=500 + i), START + timedelta(days=day), kwh, ())
            for i, (day, kwh) in enumerate(records)
        ],
        cap,
    )
    for i in range(len(book.records)):
        book.reconcile(i)
    return book
