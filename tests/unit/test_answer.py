"""What an answer may contain: one record per day, only days asked for and ended, fitting values."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Context, Decimal
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.answer import (
    ENERGY_LIMIT,
    ENERGY_MAX_SCALE,
    AnswerRefused,
    DayRecord,
    ReadWindow,
    accept,
    check_window,
    fit_energy,
    one_per_day,
)

BASE = date(2026, 3, 1)
WIDE = Context(prec=200)


def rec(index: int, day: date, home: str = "10", other: str = "0") -> DayRecord:
    h, o = Decimal(home), Decimal(other)
    return DayRecord(index, day, h, o, Decimal(0), h + o, {"i": index})


def test_identical_copies_are_one_day() -> None:
    (day,) = one_per_day([rec(0, BASE), rec(1, BASE), rec(2, BASE, "10.000")])
    assert (day.index, day.home) == (0, Decimal(10))  # never 10 + 10


def test_different_figures_for_one_day_are_a_conflict() -> None:
    with pytest.raises(AnswerRefused) as info:
        one_per_day([rec(0, BASE), rec(1, BASE + timedelta(days=1)), rec(2, BASE, "12")])
    assert info.value.code == "CONFLICTING_DAY"
    assert "records[0] and records[2]" in info.value.description


FIGURES = ("0", "1.5", "10", "7.25", "10.00")


def random_answer(rng: Random, days: int = 7, size: int = 12) -> list[DayRecord]:
    return [
        rec(i, BASE + timedelta(days=rng.randrange(days)), rng.choice(FIGURES), rng.choice(FIGURES))
        for i in range(rng.randrange(size + 1))
    ]


# Each example checks 20 answers drawn from its seeded generator: 4,000 answers per run.
@settings(max_examples=200, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_one_record_per_day_or_a_conflict(rng: Random) -> None:
    for _ in range(20):
        answer = random_answer(rng)
        figures_of: dict[date, set[tuple[Decimal, ...]]] = {}
        for r in answer:
            figures_of.setdefault(r.day, set()).add(r.figures)
        if any(len(f) > 1 for f in figures_of.values()):
            with pytest.raises(AnswerRefused, match="CONFLICTING_DAY"):
                one_per_day(answer)
            continue
        kept = one_per_day(answer)
        assert [r.day for r in kept] == sorted(figures_of)  # each day once, in order
        for r in kept:
            assert {r.figures} == figures_of[r.day]  # as received, never summed
            assert r.index == min(x.index for x in answer if x.day == r.day)


@settings(max_examples=200, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_only_days_asked_for_and_ended_are_accepted(rng: Random) -> None:
    for _ in range(20):
        first = BASE + timedelta(days=rng.randint(-40, 5))
        last = first + timedelta(days=rng.randint(0, 40))
        window = ReadWindow(first, last, last + timedelta(days=rng.randint(-3, 3)))
        answer = [
            rec(i, BASE + timedelta(days=rng.randint(-60, 60))) for i in range(rng.randrange(10))
        ]
        outside = [
            r for r in answer if not window.first <= r.day <= min(window.last, window.last_ended)
        ]
        if not outside:
            check_window(answer, window)
            continue
        code = "DAY_NOT_ENDED" if outside[0].day > window.last_ended else "OUTSIDE_WINDOW"
        with pytest.raises(AnswerRefused, match=rf"{code}: records\[{outside[0].index}\]"):
            check_window(answer, window)


def test_a_day_not_ended_and_a_day_never_offered() -> None:
    window = ReadWindow(BASE, BASE + timedelta(days=29), BASE + timedelta(days=29))
    with pytest.raises(AnswerRefused, match="DAY_NOT_ENDED"):
        accept([rec(0, BASE + timedelta(days=30))], window)
    with pytest.raises(AnswerRefused, match="OUTSIDE_WINDOW"):
        accept([rec(0, date(2013, 5, 1))], window)
    assert len(accept([rec(0, BASE), rec(1, BASE + timedelta(days=29))], window)) == 2


@settings(max_examples=1000, deadline=None)
@given(
    value=st.decimals(
        min_value=Decimal("-10"), max_value=Decimal("2000000"), allow_nan=False, places=None
    )
    | st.decimals(allow_nan=True, allow_infinity=True)
)
def test_an_energy_is_stored_exactly_or_refused(value: Decimal) -> None:
    fits = (
        value.is_finite()
        and 0 <= value < ENERGY_LIMIT
        and value == value.quantize(Decimal(1).scaleb(-ENERGY_MAX_SCALE), context=WIDE)
    )
    if not fits:
        with pytest.raises(AnswerRefused, match="OUT_OF_RANGE"):
            fit_energy(value, "records[0].home")
        return
    stored = fit_energy(value, "records[0].home")
    assert stored == value  # the same number: nothing rounded
    exponent = stored.as_tuple().exponent
    assert isinstance(exponent, int)
    assert -ENERGY_MAX_SCALE <= exponent <= -4


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("0.04995", "0.04995"),
        ("10.00004", "10.00004"),
        ("12.3", "12.3000"),
        ("9999", "9999.0000"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1.5000000000000000000000000000", "1.5000"),
    ],
)
def test_stored_energies(value: str, stored: str) -> None:
    assert str(fit_energy(Decimal(value), "x")) == stored


@pytest.mark.parametrize("value", ["1000000", "-0.001", "1e-25", "Infinity", "NaN"])
def test_energies_that_do_not_fit(value: str) -> None:
    with pytest.raises(AnswerRefused, match="OUT_OF_RANGE"):
        fit_energy(Decimal(value), "records[3].home")
