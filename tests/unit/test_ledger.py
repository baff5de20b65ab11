"""The ledger's rule on worked examples, and the defects it was fixed for."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from uuid import UUID

import pytest

from billing.domain.errors import Conflict, StaleVersion
from billing.domain.ledger import (
    CreateAdjustment,
    CreateCharge,
    UpdatePending,
    apply,
    reconcile,
    settling_move,
)
from billing.domain.pricing import Unpriced
from tests.ledger_support import DAY, charge, decide, ids, priced, step, totals

D = Decimal


def test_a_new_day_gets_a_pending_charge_line() -> None:
    target = priced("10")
    assert reconcile(target, []) == [CreateCharge(target)]
    assert reconcile(None, []) == []
    assert reconcile(Unpriced(D(10), DAY, "2024-05"), []) == []


def test_a_pending_line_follows_the_restated_day() -> None:
    lines = step(priced("10"), [], ids(100))
    target = priced("12.5")
    [update] = reconcile(target, lines)
    assert update == UpdatePending(
        lines[0].id, 1, D("12.5"), D("0.30"), D("3.75"), "EUR", UUID(int=1001), target
    )
    [line] = apply(lines, [update], new_id=ids(200))
    assert (line.kind, line.status, line.amount, line.version) == (
        "charge",
        "pending",
        D("3.75"),
        2,
    )
    # restated to nothing: the line stays, at zero
    [line] = step(None, [line], ids(300))
    assert (line.kwh, line.amount, line.version) == (D(0), D("0.00"), 3)


def test_a_decided_line_is_adjusted_never_changed() -> None:
    approved = charge("3.00", "10", status="approved")
    target = priced("12")
    [adjustment] = reconcile(target, [approved])
    assert adjustment == CreateAdjustment(
        approved.id, D(2), D("0.30"), D("0.60"), "EUR", UUID(int=1001), target
    )
    lines = step(target, [approved], ids(100))
    # a second restatement moves the same pending adjustment, to below the original even
    lines = step(priced("9"), lines, ids(200))
    assert [(x.kind, x.amount, x.version) for x in lines] == [
        ("charge", D("3.00"), 2),
        ("adjustment", D("-0.30"), 2),
    ]
    # once that adjustment is decided too, the next difference gets a new one
    lines = decide(lines, lines[1].id, "approved")
    lines = step(priced("0.0001"), lines, ids(300))
    assert [x.amount for x in lines] == [D("3.00"), D("-0.30"), D("-2.70")]
    lines = step(None, lines, ids(400))
    assert [x.amount for x in lines] == [D("3.00"), D("-0.30"), D("-2.70")]
    assert lines[2].kwh == D("-9")


def test_a_rejected_line_counts_and_only_the_difference_is_put_up_again() -> None:
    rejected = charge("3.00", "10", status="rejected")
    assert reconcile(priced("10"), [rejected]) == []
    lines = step(priced("11"), [rejected], ids(100))
    assert [(x.kind, x.status, x.amount) for x in lines] == [
        ("charge", "rejected", D("3.00")),
        ("adjustment", "pending", D("0.30")),
    ]


def test_back_to_the_decided_figure_leaves_a_zero_pending_adjustment() -> None:
    approved = charge("3.00", "10", status="approved")
    lines = step(priced("11"), [approved], ids(100))
    lines = step(priced("10"), lines, ids(200))
    assert [(x.kwh, x.amount, x.status) for x in lines][1] == (D(0), D("0.00"), "pending")


def test_amounts_from_the_database_carry_four_decimals() -> None:
    approved = charge("3.0000", "10.0000", status="approved")
    assert reconcile(priced("10"), [approved]) == []
    [adjustment] = reconcile(priced("10.5"), [approved])
    assert isinstance(adjustment, CreateAdjustment)
    assert str(adjustment.amount_delta) == "0.15"
    with pytest.raises(ValueError, match="more decimals"):
        reconcile(priced("10.5"), [dataclasses.replace(approved, amount=D("3.0050"))])


def test_a_new_currency_reverses_the_old_one_and_pays_in_the_new() -> None:
    approved = charge("3.00", "10", status="approved")
    target = priced("10", "36", "JPY", n=2)
    actions = reconcile(target, [approved])
    eur, jpy = UUID(int=1001), UUID(int=1002)
    assert actions == [
        CreateAdjustment(approved.id, D(-10), D("0.300000"), D("-3.00"), "EUR", eur, target),
        CreateAdjustment(approved.id, D(10), D(36), D(360), "JPY", jpy, target),
    ]
    step(target, [approved], ids(100))
    # a pending charge line alone simply moves to the new currency
    [update] = reconcile(target, [charge("3.00", "10")])
    assert isinstance(update, UpdatePending)
    assert (update.currency, update.amount, update.tariff_id) == ("JPY", D(360), UUID(int=1002))


def test_an_unpriced_day_moves_no_money() -> None:
    approved = charge("3.00", "10", status="approved")
    assert reconcile(Unpriced(D(12), DAY, "2024-05"), [approved]) == []
    assert reconcile(Unpriced(D(12), DAY, "2024-05"), [charge("3.00", "10")]) == []


def test_raced_adjustments_are_folded_into_one() -> None:
    approved = charge("3.00", "10", status="approved")
    target = priced("12")
    [adjustment] = reconcile(target, [approved])
    twice = apply([approved], [adjustment, adjustment], new_id=ids(100))
    assert totals(twice) == {"EUR": D("4.20")}
    healed = step(target, twice, ids(200))
    assert [(x.amount, x.version) for x in healed] == [
        (D("3.00"), 2),
        (D("0.00"), 2),
        (D("0.60"), 1),
    ]


def test_impossible_ledgers_are_refused() -> None:
    pending = charge("3.00", "10")
    adjustment = dataclasses.replace(
        pending, id=UUID(int=2), kind="adjustment", adjusts_id=pending.id
    )
    with pytest.raises(ValueError, match="pending but has adjustments"):
        reconcile(priced("10"), [pending, adjustment])
    with pytest.raises(ValueError, match="exactly one charge line"):
        reconcile(priced("10"), [adjustment])
    with pytest.raises(ValueError, match="exactly one charge line"):
        reconcile(priced("10"), [pending, dataclasses.replace(pending, id=UUID(int=3))])


def test_apply_refuses_what_the_database_refuses() -> None:
    approved = charge("3.00", "10", status="approved")
    update = UpdatePending(approved.id, 2, D(1), D(1), D("1.00"), "EUR", UUID(int=1001), None)
    with pytest.raises(Conflict, match="approved"):
        apply([approved], [update], new_id=ids())
    with pytest.raises(StaleVersion):
        apply([charge("3.00", "10")], [update], new_id=ids())
    with pytest.raises(Conflict, match="already has a charge line"):
        apply([approved], [CreateCharge(priced("1"))], new_id=ids())


# Regressions: a rejected amount is never clawed back, a refused claw-back never re-paid


def test_a_rejected_line_restated_downwards_claws_nothing_back() -> None:
    rejected = charge("3.00", "10", status="rejected")
    # nothing was paid: before, a pending -1.50 took back money never paid
    assert reconcile(priced("5"), [rejected]) == []
    assert reconcile(None, [rejected]) == []
    assert reconcile(priced("10"), [rejected]) == []  # the rejection is final
    lines = step(priced("12"), [rejected], ids(100))  # only what is new is put up
    assert [(x.status, x.kwh, x.amount) for x in lines][1] == ("pending", D(2), D("0.60"))
    # and when the figure falls again, that pending line follows it down to zero, not below
    lines = step(priced("4"), lines, ids(200))
    assert [(x.status, x.kwh, x.amount) for x in lines][1] == ("pending", D(0), D("0.00"))


def test_a_refused_clawback_is_not_paid_again_when_the_figure_returns() -> None:
    approved = charge("3.00", "10", status="approved")
    lines = step(priced("8"), [approved], ids(100))
    assert [x.amount for x in lines] == [D("3.00"), D("-0.60")]
    lines = decide(lines, lines[1].id, "rejected")  # the manager refuses the claw-back
    # back to the paid figure: before, +0.60 was put up and paid the refused claw-back again
    assert reconcile(priced("10"), lines) == []
    assert reconcile(priced("8"), lines) == []  # the refusal stands
    [down] = reconcile(priced("6"), lines)  # a new fall is a new claw-back, of the new part
    assert isinstance(down, CreateAdjustment)
    assert (down.kwh_delta, down.amount_delta) == (D(-2), D("-0.60"))
    [up] = reconcile(priced("12"), lines)  # above what was paid, the rise is paid
    assert isinstance(up, CreateAdjustment)
    assert (up.kwh_delta, up.amount_delta) == (D(2), D("0.60"))


def test_a_clawback_never_takes_back_more_than_was_approved() -> None:
    approved = charge("3.00", "10", status="approved")
    lines = step(priced("12"), [approved], ids(100))
    lines = decide(lines, lines[1].id, "rejected")  # 0.60 refused: 3.00 paid
    [gone] = reconcile(None, lines)  # before: -3.60
    assert isinstance(gone, CreateAdjustment)
    assert (gone.kwh_delta, gone.amount_delta) == (D(-10), D("-3.00"))


def test_the_settling_move() -> None:
    # (value, decided lines) -> the pending line's figure
    assert settling_move(D(5), []) == D(5)
    assert settling_move(D(2), [("approved", D(3))]) == D(-1)
    assert settling_move(D(2), [("rejected", D(3))]) == D(0)
    assert settling_move(D(3), [("approved", D(3)), ("rejected", D(-1))]) == D(0)
    assert settling_move(D(1), [("approved", D(3)), ("rejected", D(-1))]) == D(-1)
    assert settling_move(D(7), [("approved", D(3)), ("rejected", D(2))]) == D(2)
    assert settling_move(D(0), [("approved", D(3)), ("rejected", D(2))]) == D(-3)
