"""Monthly bar charts drawn as plain SVG shapes: no chart service, no script.

Pure: it takes month totals and returns rectangles and labels in a fixed viewBox; the
template only places them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.db.views import MonthTotal

WIDTH = 640
HEIGHT = 200
TOP = 16
BOTTOM = 28
LEFT = 8
MONTHS = 12
MAX_SLOT = Decimal(80)


@dataclass(frozen=True, slots=True)
class Bar:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    status: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    unit: str
    bars: tuple[Bar, ...]
    months: tuple[tuple[Decimal, str], ...]
    peak: Decimal
    width: int = WIDTH
    height: int = HEIGHT


def monthly(totals: list[MonthTotal], *, measure: str, unit: str, title: str) -> Chart:
    """Approved and pending side by side per month, the last twelve months with data."""
    periods = sorted({t.period for t in totals})[-MONTHS:]
    values: dict[tuple[str, str], Decimal] = {}
    for t in totals:
        if t.period in periods and t.status in ("approved", "pending"):
            value = t.kwh if measure == "kwh" else t.amount
            values[t.period, t.status] = values.get((t.period, t.status), Decimal(0)) + value
    peak = max(values.values(), default=Decimal(0))
    plot = Decimal(HEIGHT - TOP - BOTTOM)
    slot = min(Decimal(WIDTH - 2 * LEFT) / max(len(periods), 1), MAX_SLOT)
    bar_width = slot * Decimal("0.38")
    bars: list[Bar] = []
    months: list[tuple[Decimal, str]] = []
    for i, period in enumerate(periods):
        x0 = LEFT + slot * i + slot * Decimal("0.1")
        months.append((x0 + bar_width, period))
        for j, status in enumerate(("approved", "pending")):
            value = values.get((period, status), Decimal(0))
            height = (value / peak * plot) if peak > 0 else Decimal(0)
            bars.append(
                Bar(
                    x=round(x0 + j * bar_width, 1),
                    y=round(TOP + plot - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    status=status,
                    label=f"{period} {status}: {value} {unit}",
                )
            )
    return Chart(title=title, unit=unit, bars=tuple(bars), months=tuple(months), peak=peak)
