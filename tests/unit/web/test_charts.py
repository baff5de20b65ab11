"""The monthly chart: bars proportional to exact totals, approved beside pending."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from billing.db.views import MonthTotal
from billing.domain.line_items import LineItemStatus
from billing.web.charts import HEIGHT, monthly


def total(period: str, status: str, amount: str) -> MonthTotal:
    return MonthTotal(
        period=period,
        currency="EUR",
        status=cast(LineItemStatus, status),
        kwh=Decimal(amount) * 3,
        amount=Decimal(amount),
        lines=1,
    )


def test_the_tallest_bar_is_the_largest_total_and_the_others_scale_to_it() -> None:
    chart = monthly(
        [
            total("2025-01", "approved", "10"),
            total("2025-01", "pending", "5"),
            total("2025-02", "approved", "20"),
        ],
        measure="amount",
        unit="EUR",
        title="Amount",
    )
    heights = {(b.label.split()[0], b.status): b.height for b in chart.bars}
    assert heights["2025-02", "approved"] == max(heights.values())
    assert heights["2025-01", "approved"] * 2 == heights["2025-02", "approved"]
    assert heights["2025-02", "pending"] == 0
    assert all(0 <= b.y <= HEIGHT for b in chart.bars)
    assert [m for _, m in chart.months] == ["2025-01", "2025-02"]


def test_rejected_lines_are_not_drawn_and_an_empty_chart_has_no_bars() -> None:
    rejected = monthly([total("2025-01", "rejected", "9")], measure="kwh", unit="kWh", title="x")
    assert [b.height for b in rejected.bars] == [0, 0]
    chart = monthly([], measure="kwh", unit="kWh", title="x")
    assert chart.bars == ()
    assert chart.peak == 0


def test_only_the_last_twelve_months_are_shown() -> None:
    totals = [total(f"2024-{m:02d}", "approved", "1") for m in range(1, 13)]
    totals.append(total("2025-01", "approved", "1"))
    chart = monthly(totals, measure="amount", unit="EUR", title="x")
    assert next(m for _, m in chart.months) == "2024-02"
