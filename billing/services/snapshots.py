"""The frozen snapshot of a document: everything it shows, built from the stored rows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from billing.domain.currencies import MINOR_UNITS
from billing.domain.documents import (
    KWH_DECIMALS,
    PRICE_DECIMALS,
    DocumentLine,
    EmployeeDetails,
    FleetDetails,
    StatementDocument,
    canonical_json,
    checked_kwh,
    checked_money,
    checked_unit_price,
    checked_utc,
    trusted_line,
)
from billing.domain.models import Employee, Fleet
from billing.domain.statement_models import PricedLine
from billing.domain.statements import ClosingLine, StatementStatus, is_prior_period


def _line(line: PricedLine, period: str, amount: Decimal | None = None) -> DocumentLine:
    return DocumentLine(
        line_item_id=line.id,
        charge_date=line.charge_date,
        period=line.period,
        kind=line.kind,
        kwh=line.kwh,
        unit_price=line.unit_price,
        amount=line.amount if amount is None else amount,
        tariff_source=_checked_source(line.tariff_source),
        prior_period=is_prior_period(line.period, period),
    )


def _parties_fleet(fleet: Fleet) -> FleetDetails:
    return FleetDetails(
        id=fleet.id,
        name=fleet.name,
        currency=fleet.currency,
        timezone=fleet.timezone,
        locale=fleet.locale,
    )


def _parties(fleet: Fleet, employee: Employee) -> tuple[FleetDetails, EmployeeDetails]:
    return (
        _parties_fleet(fleet),
        EmployeeDetails(id=employee.id, name=employee.name, external_ref=employee.external_ref),
    )


def statement_document(
    *,
    fleet: Fleet,
    employee: Employee,
    statement_id: UUID,
    period: str,
    currency: str,
    status: StatementStatus,
    number: str | None,
    issued_at: datetime | None,
    lines: Sequence[PricedLine],
    pending: Sequence[PricedLine] = (),
    reason: str | None = None,
) -> StatementDocument:
    fleet_details, employee_details = _parties(fleet, employee)
    doc_lines = tuple(_line(line, period) for line in lines)
    return StatementDocument(
        kind="statement",
        document_id=statement_id,
        number=number,
        status=status,
        fleet=fleet_details,
        employee=employee_details,
        period=period,
        currency=currency,
        issued_at=issued_at,
        lines=doc_lines,
        total=sum((line.amount for line in doc_lines), Decimal(0)),
        kwh=sum((line.kwh for line in doc_lines), Decimal(0)),
        reason=reason,
        pending_not_included=tuple(_line(line, period) for line in pending),
    )


def credit_note_document(
    *,
    fleet: Fleet,
    employee: Employee,
    note_id: UUID,
    number: str,
    statement_number: str,
    period: str,
    currency: str,
    issued_at: datetime,
    lines: Sequence[PricedLine],
    amounts: Mapping[UUID, Decimal],
    reason: str,
) -> StatementDocument:
    fleet_details, employee_details = _parties(fleet, employee)
    doc_lines = tuple(_line(line, period, -amounts[line.id]) for line in lines)
    return StatementDocument(
        kind="credit_note",
        document_id=note_id,
        number=number,
        status="finalized",
        fleet=fleet_details,
        employee=employee_details,
        period=period,
        currency=currency,
        issued_at=issued_at,
        lines=doc_lines,
        total=sum((line.amount for line in doc_lines), Decimal(0)),
        kwh=sum((line.kwh for line in doc_lines), Decimal(0)),
        references_number=statement_number,
        reason=reason,
    )


def frozen(doc: StatementDocument) -> tuple[str, str]:
    """The snapshot as stored (canonical JSON text) and its SHA-256."""
    data = canonical_json(doc)
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()


def _canonical(value: Decimal, exponent: int, convert: Callable[[Decimal], Any]) -> Any:
    """`convert(value)`, skipped when `value` is already in that form: non-zero and with
    exactly that exponent, which every conversion leaves as it is."""
    if value and value.as_tuple().exponent == exponent:
        return value
    return convert(value)


def _checked_source(source: str | None) -> str | None:
    """A tariff source as a document line holds it (1 to 2000 characters), like validation;
    an empty source stored before the API refused one is no source."""
    source = source or None
    if source is not None and not 0 < len(source) <= 2000:
        raise ValueError("a line's tariff source must have 1 to 2000 characters")
    return source


class FinalizedDocuments:
    """Builds the finalized `StatementDocument`s of one fleet and period in one pass.

    The same document `statement_document` builds, for lines read from the database (whose
    constraints already hold for them): every value goes through the same canonical
    conversions (minor units, kWh and price scales, UTC) and every document through the same
    consistency rules, but the models are constructed instead of validated field by field,
    which a month-end of hundreds of thousands of lines spends most of its time on. The
    canonical JSON and its SHA-256 are byte for byte those of the validated model
    (tests/unit/documents/test_fast_snapshots.py compares them).
    """

    def __init__(self, fleet: Fleet, period: str, issued_at: datetime) -> None:
        self.fleet = _parties_fleet(fleet)
        self.period = period
        self.issued_at = checked_utc(issued_at)

    def document(
        self,
        *,
        employee: Employee,
        statement_id: UUID,
        currency: str,
        number: str,
        lines: Sequence[PricedLine | ClosingLine],
    ) -> StatementDocument:
        period = self.period
        digits = -MINOR_UNITS[currency]
        doc_lines = tuple(
            trusted_line(
                line_item_id=line.id,
                charge_date=line.charge_date,
                period=line.period,
                kind=line.kind,
                vehicle_name=None,
                kwh=_canonical(line.kwh, -KWH_DECIMALS, checked_kwh),
                unit_price=_canonical(line.unit_price, -PRICE_DECIMALS, checked_unit_price),
                amount=_canonical(
                    line.amount, digits, lambda v: checked_money(v, currency, "line amount")
                ),
                tariff_source=_checked_source(line.tariff_source),
                prior_period=is_prior_period(line.period, period),
            )
            for line in lines
        )
        doc = StatementDocument.model_construct(
            kind="statement",
            document_id=statement_id,
            number=number,
            status="finalized",
            fleet=self.fleet,
            employee=EmployeeDetails(
                id=employee.id, name=employee.name, external_ref=employee.external_ref
            ),
            period=period,
            currency=currency,
            issued_at=self.issued_at,
            lines=doc_lines,
            total=checked_money(
                sum((line.amount for line in doc_lines), Decimal(0)), currency, "total"
            ),
            kwh=checked_kwh(sum((line.kwh for line in doc_lines), Decimal(0))),
            references_number=None,
            reason=None,
            pending_not_included=(),
        )
        doc.check_consistent()
        return doc


def thaw(snapshot: str) -> StatementDocument:
    return StatementDocument.model_validate_json(snapshot)
