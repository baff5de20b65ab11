"""Splitting tariffs for a correction: the parts cover what they replace, priced day by day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.corrections import CorrectionBody, corrected_range, split_tariffs
from billing.domain.errors import InvalidData
from billing.domain.pricing import TariffRange, tariff_for_day

BASE = date(2025, 1, 1)
PRICES = st.sampled_from([Decimal("0.300000"), Decimal("0.350000"), Decimal("0.410000")])


@st.composite
def scopes(draw: st.DrawFn) -> list[TariffRange]:
    """Consecutive tariffs of one scope; the last may be open-ended."""
    cuts = sorted(draw(st.sets(st.integers(1, 80), min_size=1, max_size=5)))
    ends: list[int | None] = [*cuts[1:], draw(st.sampled_from([None, cuts[-1] + 10]))]
    return [
        TariffRange(
            id=uuid4(),
            employee_id=None,
            price_per_kwh=draw(PRICES),
            currency="EUR",
            valid_from=BASE + timedelta(days=start),
            valid_to=None if end is None else BASE + timedelta(days=end),
        )
        for start, end in zip(cuts, ends, strict=True)
    ]


@given(scopes(), PRICES, st.integers(0, 100), st.one_of(st.none(), st.integers(1, 40)))
def test_each_day_keeps_or_gets_its_price_and_the_parts_do_not_overlap(
    in_force: list[TariffRange], price: Decimal, start_day: int, length: int | None
) -> None:
    start = BASE + timedelta(days=start_day)
    end = None if length is None else start + timedelta(days=length)
    split = split_tariffs(in_force, price, start, end)

    replaced = {t.id for t in split.replaced}
    after = [t for t in in_force if t.id not in replaced] + list(split.created)
    for offset in range(130):
        day = BASE + timedelta(days=offset)
        was = tariff_for_day(in_force, day)  # refuses overlapping tariffs
        now = tariff_for_day(after, day)
        assert (was is None) == (now is None)
        if was is None or now is None:
            continue
        inside = start <= day and (end is None or day < end)
        assert now.price_per_kwh == (price if inside else was.price_per_kwh)
        assert now.currency == was.currency
    assert all(t.price_per_kwh != price for t in split.replaced)
    # again with the same price: nothing left to replace
    assert split_tariffs(after, price, start, end).replaced == ()


def test_created_ids_are_the_same_in_a_preview_and_when_applied() -> None:
    tariff = TariffRange(uuid4(), None, Decimal("0.3"), "EUR", BASE, None)
    first = split_tariffs([tariff], Decimal("0.35"), date(2025, 2, 1), date(2025, 3, 1))
    second = split_tariffs([tariff], Decimal("0.35"), date(2025, 2, 1), date(2025, 3, 1))
    assert [t.id for t in first.created] == [t.id for t in second.created]
    assert len({t.id for t in first.created}) == 3
    assert [t.price_per_kwh for t in first.corrected] == [Decimal("0.350000")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (date(2025, 1, 1), date(2025, 4, 1))),
        ({"from": "2025-02-01"}, (date(2025, 2, 1), date(2025, 4, 1))),
        ({"to": "2025-02-01"}, (date(2025, 1, 1), date(2025, 2, 1))),
        ({"from": "2024-12-31"}, InvalidData),
        ({"to": "2025-04-02"}, InvalidData),
        ({"from": "2025-04-01"}, InvalidData),
    ],
)
def test_the_range_lies_within_the_tariff(body: dict[str, str], expected: object) -> None:
    parsed = CorrectionBody.model_validate({"price_per_kwh": "0.3", **body})
    if expected is InvalidData:
        with pytest.raises(InvalidData):
            corrected_range(date(2025, 1, 1), date(2025, 4, 1), parsed)
    else:
        assert corrected_range(date(2025, 1, 1), date(2025, 4, 1), parsed) == expected


def test_an_open_tariff_gives_an_open_correction_by_default() -> None:
    parsed = CorrectionBody.model_validate({"price_per_kwh": "0.3", "from": "2025-02-01"})
    assert corrected_range(date(2025, 1, 1), None, parsed) == (date(2025, 2, 1), None)
