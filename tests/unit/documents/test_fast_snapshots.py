"""The month-end's constructed documents are byte for byte the validated ones."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.documents import StatementDocument, canonical_json
from billing.domain.models import Employee, Fleet
from billing.domain.statement_models import PricedLine
from billing.domain.statements import ClosingLine
from billing.services.snapshots import FinalizedDocuments, frozen, statement_document

NOW = datetime(2026, 12, 1, 23, 5, 7, 123456, tzinfo=timezone(timedelta(hours=1)))
EXPONENT = {"EUR": 2, "JPY": 0, "KWD": 3}


def _fleet(currency: str) -> Fleet:
    return Fleet.model_validate(
        {
            "id": uuid4(),
            "name": "Nordlicht Logistik GmbH",
            "currency": currency,
            "timezone": "Europe/Berlin",
            "locale": "de-DE",
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def _employee(fleet: Fleet, name: str) -> Employee:
    return Employee.model_validate(
        {
            "id": uuid4(),
            "fleet_id": fleet.id,
            "external_ref": "10042",
            "name": name,
            "email": None,
            "timezone": None,
            "monthly_cap": None,
            "active": True,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def _line(
    employee: Employee, currency: str, period: str, day: int, minor: int, kwh: str, source: str
) -> PricedLine:
    year, month = (int(part) for part in period.split("-"))
    return PricedLine.model_validate(
        {
            "id": uuid4(),
            "fleet_id": employee.fleet_id,
            "employee_id": employee.id,
            "vehicle_id": uuid4(),
            "charge_record_id": uuid4(),
            "charge_date": date(year, month, day),
            "period": period,
            "kind": "charge" if minor >= 0 else "adjustment",
            "adjusts_id": None,
            "kwh": Decimal(kwh),
            "unit_price": Decimal("0.341200"),
            "currency": currency,
            "amount": Decimal(minor).scaleb(-EXPONENT[currency]),
            "tariff_id": uuid4(),
            "status": "approved",
            "decided_by": "manager@example.com",
            "decided_at": NOW,
            "reason": None,
            "version": 2,
            "statement_id": None,
            "created_at": NOW,
            "updated_at": NOW,
            "tariff_source": source,
        }
    )


def _both(
    currency: str, name: str, lines: list[tuple[str, int, int, str, str]]
) -> tuple[StatementDocument, StatementDocument]:
    fleet = _fleet(currency)
    employee = _employee(fleet, name)
    priced = [_line(employee, currency, *spec) for spec in lines]
    statement_id = uuid4()
    validated = statement_document(
        fleet=fleet,
        employee=employee,
        statement_id=statement_id,
        period="2026-11",
        currency=currency,
        status="finalized",
        number="S-2026-00017",
        issued_at=NOW,
        lines=priced,
    )
    built = FinalizedDocuments(fleet, "2026-11", NOW).document(
        employee=employee,
        statement_id=statement_id,
        currency=currency,
        number="S-2026-00017",
        lines=priced,
    )
    closing = [
        ClosingLine(
            line.id,
            line.employee_id,
            line.charge_date,
            line.period,
            line.kind,
            line.kwh,
            line.unit_price,
            line.currency,
            line.amount,
            line.status,
            line.statement_id,
            line.created_at,
            line.tariff_source,
        )
        for line in priced
    ]
    from_closing = FinalizedDocuments(fleet, "2026-11", NOW).document(
        employee=employee,
        statement_id=statement_id,
        currency=currency,
        number="S-2026-00017",
        lines=closing,
    )
    assert canonical_json(from_closing) == canonical_json(built)
    return validated, built


def test_a_month_with_prior_period_corrections_has_the_same_bytes_and_hash() -> None:
    validated, built = _both(
        "EUR",
        "Anna Schmidt",
        [
            ("2026-11", 3, 425, "12.5", "Strompreispauschale 2026"),
            ("2026-11", 4, 3712, "108.7930", "standard contract price"),
            ("2026-10", 30, -120, "-3.5172", "Arbeitspreis Stadtwerke"),
            ("2026-11", 5, 0, "-0", "Ökostrom «grün»"),
        ],
    )
    assert canonical_json(built) == canonical_json(validated)
    assert frozen(built) == frozen(validated)
    assert built == validated
    assert [line.prior_period for line in built.lines] == [False, False, True, False]


@settings(max_examples=60, deadline=None)
@given(
    currency=st.sampled_from(sorted(EXPONENT)),
    name=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s != ""),
    lines=st.lists(
        st.tuples(
            st.sampled_from(["2026-09", "2026-10", "2026-11"]),
            st.integers(1, 28),
            st.integers(-(10**7), 10**7),
            st.decimals(min_value=-999, max_value=999, places=4).map(str),
            st.text(min_size=1, max_size=30),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_any_statement_has_the_same_bytes_and_hash(
    currency: str, name: str, lines: list[tuple[str, int, int, str, str]]
) -> None:
    validated, built = _both(currency, name, lines)
    assert canonical_json(built) == canonical_json(validated)
    assert frozen(built) == frozen(validated)


def test_a_line_that_needs_rounding_is_refused_like_the_validated_model() -> None:
    fleet = _fleet("EUR")
    employee = _employee(fleet, "Anna Schmidt")
    line = _line(employee, "EUR", "2026-11", 3, 425, "12.5", "x").model_copy(
        update={"amount": Decimal("4.255")}
    )
    with pytest.raises(ValueError, match="more decimals than EUR allows"):
        FinalizedDocuments(fleet, "2026-11", NOW).document(
            employee=employee,
            statement_id=uuid4(),
            currency="EUR",
            number="S-2026-00001",
            lines=[line],
        )


def test_a_later_months_line_is_refused_like_the_validated_model() -> None:
    fleet = _fleet("EUR")
    employee = _employee(fleet, "Anna Schmidt")
    line = _line(employee, "EUR", "2026-12", 3, 425, "12.5", "x")
    with pytest.raises(ValueError, match="later than the document's period"):
        FinalizedDocuments(fleet, "2026-11", NOW).document(
            employee=employee,
            statement_id=UUID(int=1),
            currency="EUR",
            number="S-2026-00001",
            lines=[line],
        )


def test_an_empty_tariff_source_is_no_source_on_either_path() -> None:
    fleet = _fleet("EUR")
    employee = _employee(fleet, "Anna Schmidt")
    line = _line(employee, "EUR", "2026-11", 3, 425, "12.5", "")
    statement_id = uuid4()
    validated = statement_document(
        fleet=fleet,
        employee=employee,
        statement_id=statement_id,
        period="2026-11",
        currency="EUR",
        status="finalized",
        number="S-2026-00001",
        issued_at=NOW,
        lines=[line],
    )
    built = FinalizedDocuments(fleet, "2026-11", NOW).document(
        employee=employee,
        statement_id=statement_id,
        currency="EUR",
        number="S-2026-00001",
        lines=[line],
    )
    assert [doc_line.tariff_source for doc_line in validated.lines] == [None]
    assert canonical_json(built) == canonical_json(validated)
