"""Price corrections on worked examples: the preview is what applying does; caps fill in order."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from uuid import UUID

from billing.domain.pricing import Priced, cap_priced, price_day
from billing.domain.repricing import RecordLedger, preview_correction
from tests.ledger_book import Book, Decide, Rerun, Restate
from tests.ledger_support import (
    DAY,
    assert_preview_is_applied,
    decide,
    ids,
    step,
    tariff,
    totals,
)

D = Decimal


def test_a_price_correction_previews_exactly_what_it_applies() -> None:
    old = [tariff(1, "0.30")]
    new = [
        tariff(1, "0.30", date(2024, 1, 1), date(2024, 5, 1)),
        tariff(2, "0.35", date(2024, 5, 1)),
    ]
    new_id = ids(100)

    def record(n: int, day: date, kwh: str) -> RecordLedger:
        lines = step(price_day(D(kwh), day, old), [], new_id)
        return RecordLedger(UUID(int=n), day, D(kwh), tuple(lines))

    approved = record(50, DAY, "10")
    approved = dataclasses.replace(
        approved, lines=tuple(decide(approved.lines, approved.lines[0].id, "approved"))
    )
    pending = record(51, DAY, "7.5")
    april = record(52, date(2024, 4, 30), "5")  # before the correction: untouched
    unpriced = record(53, date(2023, 12, 31), "5")  # no tariff then, nor now
    records = [approved, pending, april, unpriced]
    preview = preview_correction(records, new)
    assert [(c.record_id, c.kind, c.was and c.was.amount, c.amount) for c in preview.changes] == [
        (UUID(int=50), "adjustment", None, D("0.50")),
        (UUID(int=51), "charge", D("2.25"), D("2.63")),
    ]
    assert preview.totals == (("EUR", D("0.88")),)
    assert preview.unpriced == (UUID(int=53),)
    done = assert_preview_is_applied(preview, records, new_id)
    # once applied, the same correction has nothing left to do
    again = preview_correction(done, new)
    assert (again.changes, again.totals) == ((), ())


def test_a_cap_cuts_the_day_that_crosses_it_and_gives_room_back() -> None:
    tariffs = [tariff(1, "0.50")]
    cap = D("20.00")

    def target(kwh: int, others: str) -> Priced:
        full = price_day(D(kwh), DAY, tariffs)
        assert isinstance(full, Priced)
        return cap_priced(full, D(others), cap)

    first = step(target(30, "0"), [], ids(100))
    second_target = target(40, "15.00")
    assert (second_target.amount, second_target.cap_cut) == (D("5.00"), D("15.00"))
    second = step(second_target, [], ids(200))
    # the first day restated downwards: only the days before it count against the cap
    restated = target(10, "0")
    assert (restated.amount, restated.cap_cut) == (D("5.00"), D("0.00"))
    first = step(restated, first, ids(300))
    assert totals([*first, *second]) == {"EUR": D("10.00")}
    # re-pricing the period, in date order, gives the room freed to the day after
    records = [
        RecordLedger(UUID(int=1), DAY, D(10), tuple(first)),
        RecordLedger(UUID(int=2), DAY, D(40), tuple(second)),
    ]
    preview = preview_correction(records, tariffs, monthly_cap=cap)
    assert [(c.line_id, c.amount) for c in preview.changes] == [(second[0].id, D("15.00"))]
    assert preview.totals == (("EUR", D("10.00")),)
    [plan] = [p for p in preview.plans if p.actions]
    assert isinstance(plan.target, Priced)
    assert (plan.target.amount, plan.target.cap_cut, plan.target.cap) == (D(15), D(5), cap)


def test_a_cap_is_filled_in_date_order() -> None:
    tariffs = [tariff(1, "0.50")]
    cap = D("20.00")
    first, second = (RecordLedger(UUID(int=n), DAY, D(20), ()) for n in (1, 2))
    book = Book(tariffs, [first, second], cap)
    book.reprice(tariffs)
    assert [totals(r.lines) for r in book.records] == [{"EUR": D("10.00")}, {"EUR": D("10.00")}]
    for i in (0, 1):
        book.run(Decide(i, 0, "approved"))
    # the first day grows: it takes the room of the second, whose approved line is offset
    book.run(Restate(0, D(30)))
    assert [[(x.status, x.amount) for x in r.lines] for r in book.records] == [
        [("approved", D("10.00")), ("pending", D("5.00"))],
        [("approved", D("10.00")), ("pending", D("-5.00"))],
    ]
    # rejecting the first day's increase gives the room back to the second
    book.run(Decide(0, 0, "rejected"))
    book.run(Rerun(1))
    assert [totals(r.lines) for r in book.records] == [{"EUR": D("15.00")}, {"EUR": D("10.00")}]
    assert book.paid("2024-05", "EUR") == cap
