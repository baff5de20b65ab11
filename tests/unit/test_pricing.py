from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from billing.domain.currencies import UnknownCurrency
from billing.domain.pricing import (
    Priced,
    TariffRange,
    Unpriced,
    apply_cap,
    as_money,
    billing_period,
    cap_priced,
    is_money,
    price_day,
    round_money,
    tariff_for_day,
)

D = Decimal
EMPLOYEE = UUID(int=1)
DAY = date(2024, 5, 15)


def tariff(
    n: int,
    price: str,
    valid_from: date,
    valid_to: date | None = None,
    *,
    employee: UUID | None = None,
    currency: str = "EUR",
) -> TariffRange:
    return TariffRange(
        id=UUID(int=1000 + n),
        employee_id=employee,
        price_per_kwh=D(price),
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        source=f"contract {n}",
    )


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("0.125", "EUR", "0.13"),  # exactly half a cent: up
        ("0.135", "EUR", "0.14"),
        ("0.1249999", "EUR", "0.12"),
        ("0.1250001", "EUR", "0.13"),
        ("-0.125", "EUR", "-0.13"),  # ties away from zero, symmetric for negatives
        ("1", "EUR", "1.00"),
        ("12.5", "JPY", "13"),
        ("12.4999", "JPY", "12"),
        ("0.0125", "KWD", "0.013"),
        ("0.01249", "KWD", "0.012"),
        ("0.00005", "CLF", "0.0001"),
    ],
)
def test_round_money_is_half_up_to_the_minor_unit(value: str, currency: str, expected: str) -> None:
    rounded = round_money(D(value), currency)
    assert rounded == D(expected)
    assert str(rounded) == expected  # the currency's exponent, exactly


def test_round_money_refuses_what_is_not_money() -> None:
    with pytest.raises(ValueError, match="finite"):
        round_money(D("NaN"), "EUR")
    with pytest.raises(ValueError, match="finite"):
        round_money(D("Infinity"), "EUR")
    with pytest.raises(UnknownCurrency):
        round_money(D("1"), "EUX")


def test_money_checks_compare_values_not_exponents() -> None:
    # numeric(14,4) columns come back with four decimals
    assert is_money(D("1.2300"), "EUR")
    assert not is_money(D("1.2350"), "EUR")
    assert str(as_money(D("1.2300"), "EUR")) == "1.23"
    assert str(as_money(D("7.0000"), "JPY")) == "7"
    with pytest.raises(ValueError, match="more decimals"):
        as_money(D("1.235"), "EUR")


def test_the_amount_is_rounded_once_at_the_line() -> None:
    # 10.4449 kWh x 0.10 = 1.04449: 1.04. Rounding to a tenth of a cent first would give
    # 1.045 and then 1.05.
    priced = price_day(D("10.4449"), DAY, [tariff(1, "0.100000", date(2024, 1, 1))])
    assert isinstance(priced, Priced)
    assert priced.unrounded == D("1.04449")
    assert priced.amount == D("1.04")


def test_half_a_cent_is_rounded_up() -> None:
    priced = price_day(D("1.25"), DAY, [tariff(1, "0.1", date(2024, 1, 1))])
    assert isinstance(priced, Priced)
    assert (priced.unrounded, str(priced.amount)) == (D("0.125"), "0.13")


def test_a_priced_day_keeps_its_arithmetic_and_evidence() -> None:
    t = tariff(7, "0.312500", date(2024, 5, 1), date(2024, 6, 1), employee=EMPLOYEE)
    priced = price_day(D("12.3456"), DAY, [t])
    assert priced == Priced(
        kwh=D("12.3456"),
        unit_price=D("0.312500"),
        currency="EUR",
        unrounded=D("3.858000000"),
        amount=D("3.86"),
        tariff_id=t.id,
        tariff_source="contract 7",
        charge_date=DAY,
        period="2024-05",
        cap_cut=D("0.00"),
    )
    assert priced.full_amount == D("3.86")


@pytest.mark.parametrize(
    ("kwh", "currency", "price", "expected"),
    [
        ("7.5", "JPY", "31.5", "236"),
        ("7.5", "KWD", "0.0123", "0.092"),
        ("0.0001", "EUR", "0.3", "0.00"),
    ],
)
def test_amounts_have_the_currencys_minor_unit(
    kwh: str, currency: str, price: str, expected: str
) -> None:
    priced = price_day(D(kwh), DAY, [tariff(1, price, date(2024, 1, 1), currency=currency)])
    assert isinstance(priced, Priced)
    assert str(priced.amount) == expected


def test_zero_home_kwh_is_no_line_and_a_day_without_tariff_is_unpriced() -> None:
    tariffs = [tariff(1, "0.30", date(2024, 6, 1))]
    assert price_day(D("0.0000"), DAY, tariffs) is None
    assert price_day(D("0.0000"), DAY, []) is None
    assert price_day(D("4.2"), DAY, tariffs) == Unpriced(D("4.2"), DAY, "2024-05")
    # a free tariff is a price, not a missing one
    free = price_day(D("4.2"), DAY, [tariff(2, "0", date(2024, 1, 1))])
    assert isinstance(free, Priced)
    assert free.amount == 0


def test_price_day_refuses_negative_or_non_finite_energy() -> None:
    with pytest.raises(ValueError, match="negative"):
        price_day(D("-0.1"), DAY, [])
    with pytest.raises(ValueError, match="finite"):
        price_day(D("NaN"), DAY, [])


@pytest.mark.parametrize(
    ("day", "period"),
    [(date(2024, 1, 1), "2024-01"), (date(2024, 12, 31), "2024-12"), (date(999, 2, 28), "0999-02")],
)
def test_billing_period(day: date, period: str) -> None:
    assert billing_period(day) == period


def test_employee_tariff_wins_and_valid_to_is_exclusive() -> None:
    fleet = tariff(1, "0.30", date(2024, 1, 1))
    own = tariff(2, "0.25", date(2024, 5, 10), date(2024, 5, 20), employee=EMPLOYEE)
    tariffs = [own, fleet]
    assert tariff_for_day(tariffs, date(2024, 5, 9)) == fleet
    assert tariff_for_day(tariffs, date(2024, 5, 10)) == own
    assert tariff_for_day(tariffs, date(2024, 5, 19)) == own
    assert tariff_for_day(tariffs, date(2024, 5, 20)) == fleet
    assert tariff_for_day(tariffs, date(2023, 12, 31)) is None


def test_overlapping_tariffs_of_one_scope_are_refused() -> None:
    a = tariff(1, "0.30", date(2024, 1, 1), date(2024, 6, 1))
    b = tariff(2, "0.31", date(2024, 5, 1))
    assert tariff_for_day([a, b], date(2024, 4, 30)) == a
    with pytest.raises(ValueError, match="of one scope"):
        tariff_for_day([a, b], date(2024, 5, 1))


@pytest.mark.parametrize(
    ("amount", "already", "cap", "currency", "paid", "cut"),
    [
        ("10.00", "0", None, "EUR", "10.00", "0.00"),
        ("10.00", "80.00", "100", "EUR", "10.00", "0.00"),
        ("10.00", "95.50", "100", "EUR", "4.50", "5.50"),
        ("10.00", "100.00", "100", "EUR", "0.00", "10.00"),
        ("10.00", "120.00", "100", "EUR", "0.00", "10.00"),  # over already: nothing more
        ("10.00", "95.50", "100.1299", "EUR", "4.62", "5.38"),  # room rounded down
        ("500", "9800", "10000", "JPY", "200", "300"),
        ("0.000", "1.000", "1", "KWD", "0.000", "0.000"),
    ],
)
def test_apply_cap(
    amount: str, already: str, cap: str | None, currency: str, paid: str, cut: str
) -> None:
    got = apply_cap(D(amount), D(already), None if cap is None else D(cap), currency)
    assert tuple(map(str, got)) == (paid, cut)


def test_apply_cap_refuses_negative_or_unrounded_amounts() -> None:
    with pytest.raises(ValueError, match="negative"):
        apply_cap(D("-1.00"), D(0), D(10), "EUR")
    with pytest.raises(ValueError, match="more decimals"):
        apply_cap(D("1.005"), D(0), D(10), "EUR")


def test_cap_priced_keeps_the_cut_as_evidence_and_is_stable() -> None:
    priced = price_day(D("40"), DAY, [tariff(1, "0.40", date(2024, 1, 1))])
    assert isinstance(priced, Priced)
    capped = cap_priced(priced, D("90.00"), D("100.00"))
    assert (capped.amount, capped.cap_cut, capped.cap) == (D("10.00"), D("6.00"), D("100.00"))
    assert capped.full_amount == priced.amount == D("16.00")
    assert cap_priced(capped, D("90.00"), D("100.00")) == capped
    assert cap_priced(capped, D("0"), None) == priced
