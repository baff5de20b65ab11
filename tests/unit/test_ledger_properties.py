"""The ledger over random histories: thousands of restatements, decisions and corrections.

A history is a handful of records of one employee with random tariffs (the employee's own
and fleet defaults, in EUR, JPY and KWD, with gaps), followed by random restatements,
approvals and rejections, re-runs and price corrections. After every step each record is
settled as `tests.ledger_support.assert_settled` states (0 <= approved + pending <= value +
refused claw-backs, never short of the value by more than the refused payments, money only
ever moved toward the value), no decided line has changed, every amount has exactly its
currency's minor units, and reconciling again does nothing.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.ledger import LineStatus, reconcile
from billing.domain.pricing import Priced, TariffRange
from billing.domain.repricing import plan_repricing, preview_correction
from tests.ledger_book import (
    CURRENCIES,
    Correct,
    Decide,
    Op,
    Rerun,
    Restate,
    energies,
    new_book,
    ops,
    records_strategy,
    tariff_sets,
)
from tests.ledger_support import EMPLOYEE, decide, standings, tariff

D = Decimal


@settings(max_examples=400, deadline=None)
@given(tariffs=tariff_sets(), records=records_strategy, history=ops())
def test_every_record_stays_settled_through_any_history(
    tariffs: list[TariffRange], records: list[tuple[int, Decimal]], history: list[Op]
) -> None:
    book = new_book(tariffs, records)
    for op in history:
        book.run(op)
    # re-reading everything once more changes nothing
    for i in range(len(book.records)):
        assert reconcile(book.target(i), book.records[i].lines) == []


@settings(max_examples=200, deadline=None)
@given(
    price=st.decimals(min_value=0, max_value=D(2), places=6),
    currency=st.sampled_from(CURRENCIES),
    cap=st.decimals(min_value=0, max_value=D(500), places=4),
    records=st.lists(st.tuples(st.integers(5, 30), energies), min_size=1, max_size=5),
    history=ops(),
)
def test_a_monthly_cap_is_never_exceeded(
    price: Decimal,
    currency: str,
    cap: Decimal,
    records: list[tuple[int, Decimal]],
    history: list[Op],
) -> None:
    # days 5 to 30 after START are all in February
    book = new_book([tariff(1, str(price), currency=currency)], records, cap)
    for op in [Rerun(0), *history, Correct([tariff(2, str(price * 2), currency=currency)])]:
        book.run(op)
        # the two documented exceptions: a refused claw-back, a day that lost its tariff
        if not (book.refused_clawback or book.unpriced_with_lines):
            assert all(book.paid("2024-02", c) <= cap for c in CURRENCIES)


@settings(max_examples=150, deadline=None)
@given(tariffs=tariff_sets(), records=records_strategy, corrected=tariff_sets())
def test_preview_of_a_correction_is_what_applying_it_does(
    tariffs: list[TariffRange], records: list[tuple[int, Decimal]], corrected: list[TariffRange]
) -> None:
    book = new_book(tariffs, records)
    for i, r in enumerate(book.records):
        if r.lines and i % 2 == 0:
            status: LineStatus = "rejected" if i % 4 else "approved"
            lines = decide(r.lines, r.lines[0].id, status)
            book.records[i] = dataclasses.replace(r, lines=tuple(lines))
    preview = preview_correction(book.records, corrected)
    assert preview.plans == plan_repricing(book.records, corrected)
    book.run(Correct(corrected))
    for i in range(len(book.records)):
        assert reconcile(book.target(i), book.records[i].lines) == []


def test_the_generated_histories_reach_adjustments_in_every_currency() -> None:
    seen: set[tuple[str, str]] = set()
    for currency, price in (("EUR", "0.305"), ("JPY", "31.5"), ("KWD", "0.0125")):
        book = new_book([tariff(1, price, currency=currency)], [(3, D("10.0001")), (4, D("0.5"))])
        history: list[Op] = [
            Decide(0, 0, "approved"),
            Restate(0, D("12.3456")),
            Restate(0, D("12.3457")),
            Decide(1, 0, "rejected"),
            Restate(1, D("0.0000")),
            Rerun(1),
            Correct([tariff(2, price, currency="EUR", employee=EMPLOYEE)]),
        ]
        for op in history:
            book.run(op)
        for r in book.records:
            seen.update((x.kind, x.currency) for x in r.lines)
    assert {("adjustment", c) for c in CURRENCIES} <= seen


# One record, one tariff: restatements that often return to an earlier figure, and decisions

FIGURES = [D(0), D(5), D(8), D(10), D(12), D("10.0001"), D("0.0333"), D("149.9999")]
STEPS: list[Op] = [
    *(Restate(0, kwh) for kwh in FIGURES),
    Decide(0, 0, "approved"),
    Decide(0, 0, "rejected"),
    Decide(0, 1, "rejected"),  # a raced second pending line, when there is one
]


@settings(max_examples=2000, deadline=None)
@given(
    price=st.sampled_from([D("0.30"), D("0.333333"), D("31.5"), D("0.0125")]),
    currency=st.sampled_from(CURRENCIES),
    first=st.sampled_from(FIGURES),
    history=st.lists(st.integers(0, len(STEPS) - 1), max_size=24),
)
def test_the_approved_total_stays_between_zero_and_the_value_plus_refused_clawbacks(
    price: Decimal, currency: str, first: Decimal, history: list[int]
) -> None:
    """Approving whatever is pending at the end: 0 <= A <= T + K, and A >= T - R.

    With no claw-back ever refused (K = 0) the approved total is between 0 and the record's
    current value; a refused claw-back is money the employee keeps, so A may exceed T by K,
    never more. Every step on the way is checked by the Book (settled, nothing decided ever
    changed, reconciling again does nothing).
    """
    book = new_book([tariff(1, str(price), currency=currency)], [(3, first)])
    for n in history:
        book.run(STEPS[n])
    while any(x.status == "pending" for x in book.records[0].lines):
        book.run(Decide(0, 0, "approved"))
    target = book.target(0)
    assert target is None or isinstance(target, Priced)
    for s in standings(target, book.records[0].lines):
        assert s.pending == 0
        assert 0 <= s.approved <= s.value + s.kept, s
        assert s.approved >= s.value - s.refused, s
        if s.kept == 0:
            assert s.approved <= s.value, s
