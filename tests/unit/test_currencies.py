from __future__ import annotations

import pytest

from billing.domain.currencies import MINOR_UNITS, UnknownCurrency, minor_unit


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("HUF", 2),
    ],
)
def test_minor_units_follow_iso_4217(code: str, digits: int) -> None:
    assert minor_unit(code) == digits


@pytest.mark.parametrize("code", ["XAU", "XXX", "XTS", "EURO", "eur", "HRK", ""])
def test_codes_without_minor_units_or_withdrawn_are_rejected(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        minor_unit(code)


def test_table_is_plausible() -> None:
    assert len(MINOR_UNITS) > 150
    assert all(len(code) == 3 and code.isupper() for code in MINOR_UNITS)
