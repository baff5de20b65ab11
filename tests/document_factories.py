"""Statement and credit-note documents built in memory, for renderer tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from billing.domain.documents import (
    DocumentLine,
    DocumentStatus,
    EmployeeDetails,
    FleetDetails,
    LineKind,
    StatementDocument,
)


def fixed_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"https://fleet-billing.test/{name}")


def fleet(locale: str = "de-DE", currency: str = "EUR") -> FleetDetails:
    return FleetDetails(
        id=fixed_id("fleet"),
        name="Nordlicht Logistik GmbH",
        currency=currency,
        timezone="Europe/Berlin",
        locale=locale,
    )


def employee(name: str = "Anna Schmidt", external_ref: str = "10042") -> EmployeeDetails:
    return EmployeeDetails(
        id=fixed_id(f"employee/{external_ref}"), name=name, external_ref=external_ref
    )


def line(
    n: int,
    *,
    period: str = "2026-11",
    statement_period: str = "2026-11",
    kwh: str = "12.5000",
    unit_price: str | None = "0.340000",
    amount: str = "4.25",
    kind: LineKind = "charge",
) -> DocumentLine:
    year, month = (int(part) for part in period.split("-"))
    return DocumentLine(
        line_item_id=fixed_id(f"line/{period}/{n}"),
        charge_date=date(year, month, 1) + timedelta(days=n % 28),
        period=period,
        kind=kind,
        vehicle_name="Tesla Model 3 (B-NL 4711)",
        kwh=Decimal(kwh),
        unit_price=None if unit_price is None else Decimal(unit_price),
        amount=Decimal(amount),
        tariff_source="Strompreispauschale 2026 (BMF 11.11.2025)",
        prior_period=period < statement_period,
    )


def statement(
    *,
    lines: int = 30,
    status: DocumentStatus = "finalized",
    locale: str = "de-DE",
    currency: str = "EUR",
    number: str | None = "S-2026-00017",
    extra: tuple[DocumentLine, ...] = (),
    **overrides: Any,
) -> StatementDocument:
    items = tuple(line(n) for n in range(lines)) + extra
    draft = status == "draft"
    fields: dict[str, Any] = {
        "kind": "statement",
        "document_id": fixed_id("statement/1"),
        "number": None if draft else number,
        "status": status,
        "fleet": fleet(locale, currency),
        "employee": employee(),
        "period": "2026-11",
        "currency": currency,
        "issued_at": None if draft else datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        "lines": items,
        "total": sum((item.amount for item in items), Decimal(0)),
        "kwh": sum((item.kwh for item in items), Decimal(0)),
    }
    if status == "void":
        fields["reason"] = "wrong tariff for November"
    fields.update(overrides)
    return StatementDocument(**fields)


def credit_note(*, amounts: tuple[str, ...] = ("-4.25", "-1.10")) -> StatementDocument:
    items = tuple(line(n, amount=a) for n, a in enumerate(amounts))
    return StatementDocument(
        kind="credit_note",
        document_id=fixed_id("credit_note/1"),
        number="C-2026-00003",
        status="finalized",
        fleet=fleet(),
        employee=employee(),
        period="2026-11",
        currency="EUR",
        issued_at=datetime(2026, 12, 20, 14, 0, tzinfo=UTC),
        lines=items,
        total=sum((item.amount for item in items), Decimal(0)),
        kwh=sum((item.kwh for item in items), Decimal(0)),
        references_number="S-2026-00017",
        reason="charging on 3 November was at a public station",
    )
