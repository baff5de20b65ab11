"""The frozen snapshot of a document: everything it shows, built from the stored rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from billing.domain.documents import (
    DocumentLine,
    EmployeeDetails,
    FleetDetails,
    StatementDocument,
    canonical_json,
    snapshot_sha256,
)
from billing.domain.models import Employee, Fleet
from billing.domain.statement_models import PricedLine
from billing.domain.statements import StatementStatus, is_prior_period


def _line(line: PricedLine, period: str, amount: Decimal | None = None) -> DocumentLine:
    return DocumentLine(
        line_item_id=line.id,
        charge_date=line.charge_date,
        period=line.period,
        kind=line.kind,
        kwh=line.kwh,
        unit_price=line.unit_price,
        amount=line.amount if amount is None else amount,
        tariff_source=line.tariff_source,
        prior_period=is_prior_period(line.period, period),
    )


def _parties(fleet: Fleet, employee: Employee) -> tuple[FleetDetails, EmployeeDetails]:
    return (
        FleetDetails(
            id=fleet.id,
            name=fleet.name,
            currency=fleet.currency,
            timezone=fleet.timezone,
            locale=fleet.locale,
        ),
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
    return canonical_json(doc).decode("utf-8"), snapshot_sha256(doc)


def thaw(snapshot: str) -> StatementDocument:
    return StatementDocument.model_validate_json(snapshot)
