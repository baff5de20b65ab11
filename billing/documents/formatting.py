"""Money, energy and dates written for a locale with babel (CLDR), exactly.

Amounts are `Decimal`s with the currency's ISO 4217 minor units; they are written with exactly
those digits (CLDR's own currency digits differ for a few currencies, e.g. IQD), so nothing is
rounded or dropped on the way to the page. Prices per kWh keep up to their 6 stored digits.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import NumberPattern, format_decimal, parse_pattern

from billing.domain.currencies import minor_unit


@lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale:
    """`de-DE` → babel's `de_DE`."""
    return Locale.parse(tag, sep="-")


@lru_cache(maxsize=256)
def _currency_pattern(tag: str, min_digits: int, max_digits: int) -> NumberPattern:
    standard = babel_locale(tag).currency_formats["standard"]
    pattern = copy.copy(parse_pattern(standard.pattern))
    pattern.frac_prec = (min_digits, max_digits)
    return pattern


def _exactly(value: Decimal, text: str, digits: int) -> str:
    if value != value.quantize(Decimal(1).scaleb(-digits)):
        raise ValueError(f"{value} has more than {digits} decimals; refusing to round it")
    return text


def money(value: Decimal, currency: str, tag: str) -> str:
    """`Decimal("41.37")`, EUR, de-DE → `41,37 €` (with a no-break space)."""
    digits = minor_unit(currency)
    pattern = _currency_pattern(tag, digits, digits)
    text = pattern.apply(value, babel_locale(tag), currency=currency, currency_digits=False)
    return _exactly(value, text, digits)


def unit_price(value: Decimal, currency: str, tag: str) -> str:
    """A price per kWh with at least the currency's digits and at most its 6 stored ones."""
    digits = minor_unit(currency)
    pattern = _currency_pattern(tag, min(digits, 6), 6)
    text = pattern.apply(value, babel_locale(tag), currency=currency, currency_digits=False)
    return _exactly(value, f"{text}/kWh", 6)


def kwh(value: Decimal, tag: str) -> str:
    """Energy with its stored digits, trailing zeros dropped (at least one): `12,5 kWh`."""
    text = format_decimal(value, format="#,##0.0###", locale=babel_locale(tag))
    return _exactly(value, f"{text}\N{NO-BREAK SPACE}kWh", 4)


def day(value: date, tag: str) -> str:
    """`01.11.2026` (de-DE), `Nov 1, 2026` (en-US)."""
    return format_date(value, format="medium", locale=babel_locale(tag))


def long_day(value: date, tag: str) -> str:
    """`4. Dezember 2026` (de-DE), `December 4, 2026` (en-US)."""
    return format_date(value, format="long", locale=babel_locale(tag))


def period(value: str, tag: str) -> str:
    """`2026-11` → `November 2026`, in the locale's words and order."""
    year, month = (int(part) for part in value.split("-"))
    return format_date(date(year, month, 1), format="LLLL y", locale=babel_locale(tag))


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar day of `moment` in `timezone` (the fleet's)."""
    return moment.astimezone(ZoneInfo(timezone)).date()
