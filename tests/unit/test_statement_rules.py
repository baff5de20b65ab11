"""Statement rules: what a draft collects, numbers, grace days, actions and credits."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.domain.access import Principal
from billing.domain.errors import Conflict, InvalidData
from billing.domain.line_items import LineItem
from billing.domain.statements import (
    CreditRequest,
    closable_period,
    collect,
    drafting_due,
    format_number,
    next_period,
    plan_credits,
    statement_actions,
)

FLEET, ME = uuid.uuid4(), uuid.uuid4()


def line(period: str, amount: str, status: str = "approved", currency: str = "EUR") -> LineItem:
    year, month = period.split("-")
    decided = status != "pending"
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "fleet_id": FLEET,
        "employee_id": ME,
        "vehicle_id": uuid.uuid4(),
        "charge_record_id": uuid.uuid4(),
        "charge_date": date(int(year), int(month), 5),
        "period": period,
        "kind": "charge",
        "adjusts_id": None,
        "kwh": Decimal("10.0000"),
        "unit_price": Decimal("0.300000"),
        "currency": currency,
        "amount": Decimal(amount),
        "tariff_id": uuid.uuid4(),
        "status": status,
        "decided_by": "k" if decided else None,
        "decided_at": datetime(2025, 1, 1, tzinfo=UTC) if decided else None,
        "reason": None,
        "version": 2,
        "statement_id": None,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return LineItem(**values)


def test_draft_takes_approved_lines_of_the_month_and_earlier_per_currency() -> None:
    march, late_feb, april = line("2025-03", "3.00"), line("2025-02", "-4.50"), line("2025-04", "1")
    pending, rejected = line("2025-03", "2.00", "pending"), line("2025-03", "9.00", "rejected")
    francs = line("2025-03", "5.00", currency="CHF")
    drafts = collect("2025-03", [march, late_feb, april, pending, rejected, francs])
    by_currency = {d.currency: d for d in drafts}
    assert set(by_currency) == {"CHF", "EUR"}
    eur = by_currency["EUR"]
    assert {x.id for x in eur.lines} == {march.id, late_feb.id}
    assert [x.id for x in eur.pending_not_included] == [pending.id]
    assert eur.total == Decimal("-1.50")
    assert eur.negative


def test_numbers_and_periods() -> None:
    assert format_number("S", 2026, 42) == "S-2026-00042"
    assert format_number("C", 2026, 123456) == "C-2026-123456"
    with pytest.raises(ValueError, match="start at 1"):
        format_number("S", 2026, 0)
    assert next_period("2025-12") == "2026-01"


def test_grace_days_count_in_the_fleet_time_zone() -> None:
    # 3 April 23:30 in Berlin is still 3 April 21:30 UTC
    before = datetime(2025, 4, 3, 21, 59, tzinfo=UTC)
    after = datetime(2025, 4, 3, 22, 0, tzinfo=UTC)
    assert not drafting_due("2025-03", timezone="Europe/Berlin", now=before, grace_days=3)
    assert drafting_due("2025-03", timezone="Europe/Berlin", now=after, grace_days=3)
    assert closable_period(timezone="Europe/Berlin", now=after, grace_days=3) == "2025-03"
    assert closable_period(timezone="America/New_York", now=after, grace_days=3) is None


def test_actions_per_status_and_role() -> None:
    manager = Principal(uuid.uuid4(), "m", "manager", FLEET, None)
    bound = Principal(uuid.uuid4(), "b", "manager", FLEET, ME)
    hr = Principal(uuid.uuid4(), "h", "hr", FLEET, None)

    def actions(who: Principal, status: Any, handed: bool = False, left: str = "1") -> list[str]:
        return list(
            statement_actions(
                who,
                fleet_id=FLEET,
                employee_id=ME,
                status=status,
                handed_over=handed,
                remaining=Decimal(left),
            )
        )

    assert actions(manager, "draft") == ["pdf", "refresh", "finalize"]
    assert actions(manager, "finalized") == ["pdf", "void"]
    assert actions(manager, "finalized", handed=True) == ["pdf", "credit"]
    assert actions(manager, "finalized", handed=True, left="0") == ["pdf"]
    assert actions(manager, "void") == ["pdf"]
    assert actions(bound, "draft") == ["pdf"]
    assert actions(hr, "finalized") == ["pdf"]


def test_credits_never_exceed_the_line_or_the_statement() -> None:
    a, b = line("2025-03", "3.00"), line("2025-03", "2.00")
    lines = {a.id: a, b.id: b}

    def plan(
        requests: list[CreditRequest],
        credited: dict[Any, Decimal] | None = None,
        total: str = "5.00",
        handed: bool = True,
    ) -> Any:
        return plan_credits(
            status="finalized",
            handed_over=handed,
            statement_total_amount=Decimal(total),
            lines=lines,
            credited=credited or {},
            requests=requests,
        )

    assert [c.amount for c in plan([CreditRequest(a.id)])] == [Decimal("3.00")]
    assert [c.amount for c in plan([CreditRequest(a.id)], {a.id: Decimal("1.00")})] == [
        Decimal("2.00")
    ]
    with pytest.raises(Conflict, match=r"only 3\.00"):
        plan([CreditRequest(a.id, Decimal("3.01"))])
    with pytest.raises(Conflict, match="statement has only"):
        plan([CreditRequest(a.id), CreditRequest(b.id)], total="4.00")
    with pytest.raises(InvalidData, match="decimals"):
        plan([CreditRequest(a.id, Decimal("0.001"))])
    with pytest.raises(InvalidData, match="not on this statement"):
        plan([CreditRequest(uuid.uuid4())])
    with pytest.raises(Conflict, match="void it instead"):
        plan([CreditRequest(a.id)], handed=False)
