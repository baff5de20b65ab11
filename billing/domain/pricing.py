"""Pricing a day of home charging: its day and period, its tariff, its one rounding, the cap.

Money and energy are `Decimal` throughout. The amount of a day is `home kWh * price per kWh`
of the tariff in force that day, rounded once, half-up, to the currency's minor unit; every
other figure (adjustments, totals, what the cap withholds) is a sum or difference of such
rounded amounts, so it needs no rounding of its own.

Monthly cap, and how it meets restatements: the cap limits what one employee is paid (pending
and approved lines; rejected ones are not paid) in one period and currency. It is filled day by
day in date order (record id breaking ties): a day's target is what it is worth, as far as the
room left by what the days before it are paid allows. A day's target therefore depends only on
the days before it, never on its own lines or decisions, so re-pricing a period twice changes
nothing the second time. A restatement, correction or rejection can move room to later days:
their pending lines follow and their decided lines get adjustments, like any re-pricing.
Lowering a cap takes effect the same way, at the next re-pricing of the period. What the cap
withholds from a day is kept on its target as `cap_cut`, next to the full amount, as evidence.
The period never pays more than the cap, with two exceptions: a rejected negative adjustment
(money the record no longer justifies) leaves that money with the employee, and a day that
has lost its tariff keeps its lines as they are; only later days of the period make up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.domain.currencies import minor_unit

# Products of kWh (under 10^6, at most 24 decimals: domain.answer) and numeric(12,6) prices
# have at most 42 digits. Explicit contexts keep arithmetic independent of the thread's
# context: products trap if they are ever inexact, and rounding happens only where a context
# with a rounding mode is asked for.


def _exact() -> Context:
    return Context(prec=60, traps=[InvalidOperation, Inexact, Overflow, DivisionByZero])


def _context(rounding: str = ROUND_HALF_UP) -> Context:
    return Context(prec=60, rounding=rounding, traps=[InvalidOperation, Overflow])


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def _finite(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{what} must be a finite Decimal, got {value!r}")
    return value


def charge_day(day_start: datetime, tz: str) -> date:
    """The calendar day of the instant `day_start` in the employee's IANA time zone `tz`.

    Where a record dated at another time of day than a midnight goes (the rule for every
    `date` form is `billing.domain.record_day`): 23:30 on the 31st stays in that month for
    the employee even when UTC is already in the next. Naive datetimes are refused: they
    have no instant.
    """
    if day_start.tzinfo is None or day_start.utcoffset() is None:
        raise ValueError(f"{day_start.isoformat()} has no time zone; the day would be a guess")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{tz!r} is not an IANA time zone name") from None
    return day_start.astimezone(zone).date()


def billing_period(day: date) -> str:
    """The period a day is billed in, `YYYY-MM`."""
    return f"{day.year:04d}-{day.month:02d}"


def round_money(value: Decimal, currency: str) -> Decimal:
    """`value` rounded half-up (ties away from zero) to the minor unit of `currency`.

    This is the only place an amount is rounded (the cap's room is only ever cut down to
    whole minor units, never rounded up).
    """
    _finite(value, "amount")
    return value.quantize(_quantum(currency), context=_context())


def is_money(value: Decimal, currency: str) -> bool:
    """Whether `value` is a whole number of the currency's minor units."""
    return value.is_finite() and value == value.quantize(_quantum(currency), context=_context())


def as_money(value: Decimal, currency: str) -> Decimal:
    """`value` with the currency's exponent; refuses a value that would need rounding."""
    _finite(value, "amount")
    if not is_money(value, currency):
        raise ValueError(f"{value} has more decimals than {currency} allows")
    return value.quantize(_quantum(currency), context=_context())


@dataclass(frozen=True, slots=True)
class TariffRange:
    """A price per kWh over `[valid_from, valid_to)`; `employee_id` None is the fleet default."""

    id: UUID
    employee_id: UUID | None
    price_per_kwh: Decimal
    currency: str
    valid_from: date
    valid_to: date | None
    source: str | None = None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def tariff_for_day(tariffs: Sequence[TariffRange], day: date) -> TariffRange | None:
    """The tariff in force on `day`: the employee's own if one covers it, else the fleet default.

    `tariffs` are the employee's own and the fleet defaults. Two tariffs of one scope on the
    same day (which the database forbids) are refused rather than picked from.
    """
    covering = [t for t in tariffs if t.covers(day)]
    for scoped in (
        [t for t in covering if t.employee_id is not None],
        [t for t in covering if t.employee_id is None],
    ):
        if len(scoped) > 1:
            ids = ", ".join(sorted(str(t.id) for t in scoped))
            raise ValueError(f"tariffs {ids} of one scope all cover {day}")
        if scoped:
            return scoped[0]
    return None


@dataclass(frozen=True, slots=True)
class Priced:
    """What a day is worth: the arithmetic `kwh * unit_price = unrounded -> amount`.

    `amount` is what the record's lines must add up to. `cap_cut` is what the monthly cap
    withheld from the rounded amount (zero without a cap), `cap` the cap that applied.
    """

    kwh: Decimal
    unit_price: Decimal
    currency: str
    unrounded: Decimal
    amount: Decimal
    tariff_id: UUID
    tariff_source: str | None
    charge_date: date
    period: str
    cap_cut: Decimal
    cap: Decimal | None = None

    @property
    def full_amount(self) -> Decimal:
        """The rounded amount before the cap."""
        return self.amount + self.cap_cut


@dataclass(frozen=True, slots=True)
class Unpriced:
    """Home kWh on a day no tariff covers: shown as such, never paid as zero."""

    kwh: Decimal
    charge_date: date
    period: str


def price_day(
    home_kwh: Decimal, day: date, tariffs: Sequence[TariffRange]
) -> Priced | Unpriced | None:
    """The target for a record's lines; None when nothing was charged at home (no line)."""
    _finite(home_kwh, "home kWh")
    if home_kwh < 0:
        raise ValueError(f"home kWh cannot be negative, got {home_kwh}")
    if home_kwh == 0:
        return None
    period = billing_period(day)
    tariff = tariff_for_day(tariffs, day)
    if tariff is None:
        return Unpriced(kwh=home_kwh, charge_date=day, period=period)
    price = _finite(tariff.price_per_kwh, "price per kWh")
    unrounded = _exact().multiply(home_kwh, price)
    return Priced(
        kwh=home_kwh,
        unit_price=price,
        currency=tariff.currency,
        unrounded=unrounded,
        amount=round_money(unrounded, tariff.currency),
        tariff_id=tariff.id,
        tariff_source=tariff.source,
        charge_date=day,
        period=period,
        cap_cut=as_money(Decimal(0), tariff.currency),
    )


def apply_cap(
    amount: Decimal, already_in_period: Decimal, cap: Decimal | None, currency: str
) -> tuple[Decimal, Decimal]:
    """`(paid, cut)`: the part of `amount` that still fits under `cap`, and the part withheld.

    `already_in_period` is what the pending and approved lines of the employee's records dated
    before this one (same day: lower record id) in the period add up to in `currency`. The room
    left is rounded down to the minor unit, so a cap with finer digits than the currency is
    never exceeded.
    """
    amount = as_money(amount, currency)
    if amount < 0:
        raise ValueError(f"a day's amount cannot be negative, got {amount}")
    if cap is None:
        return amount, as_money(Decimal(0), currency)
    room = max(_finite(cap, "cap") - _finite(already_in_period, "period total"), Decimal(0))
    room = room.quantize(_quantum(currency), context=_context(ROUND_FLOOR))
    paid = min(amount, room)
    return paid, amount - paid


def cap_priced(priced: Priced, already_in_period: Decimal, cap: Decimal | None) -> Priced:
    """`priced` with its amount limited by the monthly cap; the withheld part kept as evidence.

    Computed from the full amount, so capping an already capped target again is harmless.
    """
    paid, cut = apply_cap(priced.full_amount, already_in_period, cap, priced.currency)
    return dataclasses.replace(priced, amount=paid, cap_cut=cut, cap=cap)
