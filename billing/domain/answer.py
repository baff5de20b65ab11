"""What a charge-records answer may contain before anything of it is stored.

One answer is accepted whole or refused whole: a refused answer stores nothing, and the
vehicle's read fails as a payload error (`AnswerRefused.code` says why). An answer is refused
when

- two records name the same day with different figures (`CONFLICTING_DAY`): one of them is
  wrong and nothing says which, so neither is added to the other nor overwrites it.
  Identical copies of a day are one day and collapse to one record;
- a record names a day that has not ended in the employee's zone (`DAY_NOT_ENDED`) or a day
  outside the window the read asked for (`OUTSIDE_WINDOW`): Smartcar did not offer it;
- an energy does not fit what is stored (`OUT_OF_RANGE`): `ENERGY_LIMIT` kWh or more, or
  more than `ENERGY_MAX_SCALE` decimals. The schema holds the same limits as CHECK
  constraints, so nothing is ever rounded or cut on its way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Any, Final, Literal

# Energy columns are unconstrained numeric with these limits as CHECKs (migration 0009).
ENERGY_LIMIT: Final = Decimal(1_000_000)
ENERGY_MAX_SCALE: Final = 24
_EXACT: Final = Context(prec=60, traps=[InvalidOperation, Inexact])
# Stored energies carry at least this many decimals, as numeric(10,4) did, so a figure that
# needs no more is written and shown as before (12.3 → 12.3000).
_MIN_SCALE: Final = 4
_FOUR: Final = Decimal(1).scaleb(-_MIN_SCALE)

RefusalCode = Literal["CONFLICTING_DAY", "DAY_NOT_ENDED", "OUTSIDE_WINDOW", "OUT_OF_RANGE"]


class AnswerRefused(ValueError):
    """The answer cannot be stored; nothing of it is."""

    def __init__(self, code: RefusalCode, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code: RefusalCode = code
        self.description = description


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One upstream record with the day it names; `index` is its place in the answer."""

    index: int
    day: date
    home: Decimal
    other: Decimal
    supercharger: Decimal
    total: Decimal
    raw: Any

    @property
    def figures(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        return (self.home, self.other, self.supercharger, self.total)


@dataclass(frozen=True, slots=True)
class ReadWindow:
    """The days a read asked for, `first` … `last`, and the last day that has ended in the
    employee's zone."""

    first: date
    last: date
    last_ended: date


def fit_energy(value: Decimal, where: str) -> Decimal:
    """`value` as it is stored: the same number, with at least four decimals.

    Refuses (OUT_OF_RANGE) a value that is not finite, is negative, is `ENERGY_LIMIT` or more,
    or needs more than `ENERGY_MAX_SCALE` decimals. Trailing zeros are not decimals it needs.
    """
    if type(value) is Decimal and value.is_finite() and 0 <= value < ENERGY_LIMIT:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= -_MIN_SCALE:
            # The common case: no more than four decimals, so exactly four are stored.
            return value if exponent == -_MIN_SCALE else value.quantize(_FOUR, context=_EXACT)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise AnswerRefused("OUT_OF_RANGE", f"{where}: {value!r} is not a finite number")
    if value < 0 or value >= ENERGY_LIMIT:
        raise AnswerRefused(
            "OUT_OF_RANGE", f"{where}: {value} kWh is outside [0, {ENERGY_LIMIT}) kWh"
        )
    scale = max(decimals_needed(value), _MIN_SCALE)
    if scale > ENERGY_MAX_SCALE:
        raise AnswerRefused(
            "OUT_OF_RANGE", f"{where}: {value} has more than {ENERGY_MAX_SCALE} decimals"
        )
    # Exact: only zeros are added or dropped, and 6 + 24 digits fit the precision.
    return value.quantize(Decimal(1).scaleb(-scale), context=_EXACT)


def decimals_needed(value: Decimal) -> int:
    """How many decimals `value` needs, trailing zeros not counted (12.500 → 1, 3E+2 → 0)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0 or not any(digits):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(-exponent - trailing, 0)


def one_per_day(records: Sequence[DayRecord]) -> list[DayRecord]:
    """One record per day, in day order; identical copies collapse to the first of them.

    Two records naming one day with different figures raise CONFLICTING_DAY.
    """
    by_day: dict[date, DayRecord] = {}
    for record in records:
        seen = by_day.get(record.day)
        if seen is None:
            by_day[record.day] = record
        elif seen.figures != record.figures:
            raise AnswerRefused(
                "CONFLICTING_DAY",
                f"records[{seen.index}] and records[{record.index}] both name {record.day} "
                f"with different figures (home/other/superCharger/total "
                f"{_show(seen.figures)} vs {_show(record.figures)} kWh)",
            )
    return [by_day[day] for day in sorted(by_day)]


def check_window(records: Sequence[DayRecord], window: ReadWindow) -> None:
    """Refuse a record naming a day that has not ended, or one outside the window asked for."""
    for record in records:
        if record.day > window.last_ended:
            raise AnswerRefused(
                "DAY_NOT_ENDED",
                f"records[{record.index}] names {record.day}, which has not ended in the "
                f"employee's time zone (the last day that has is {window.last_ended})",
            )
        if not window.first <= record.day <= window.last:
            raise AnswerRefused(
                "OUTSIDE_WINDOW",
                f"records[{record.index}] names {record.day}, outside the days asked for "
                f"({window.first} to {window.last})",
            )


def accept(records: Sequence[DayRecord], window: ReadWindow | None) -> list[DayRecord]:
    """The days to store from one answer, each energy as stored; AnswerRefused otherwise.

    Without a window (records imported outside a read) only the day and range rules apply.
    """
    fitted = [
        DayRecord(
            r.index,
            r.day,
            fit_energy(r.home, f"records[{r.index}].home"),
            fit_energy(r.other, f"records[{r.index}].other"),
            fit_energy(r.supercharger, f"records[{r.index}].superCharger"),
            fit_energy(r.total, f"records[{r.index}].total"),
            r.raw,
        )
        for r in records
    ]
    if window is not None:
        check_window(fitted, window)
    return one_per_day(fitted)


def _show(figures: tuple[Decimal, ...]) -> str:
    return "/".join(str(f) for f in figures)
