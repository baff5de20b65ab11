"""Statements, credit notes and payroll exports as the API shows them, and the bodies that
create and change them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from billing.domain.documents import LocaleTag
from billing.domain.line_items import LineItem, Period, Reason
from billing.domain.models import Input, Record
from billing.domain.statements import CreditNoteAction, StatementAction, StatementStatus

ExportFormat = Literal["csv", "datev-lodas"]
MAX_CREDIT_LINES = 500


class Statement(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    period: str
    currency: str
    status: StatementStatus
    number: str | None = Field(description="S-YYYY-NNNNN, given at finalization")
    total: Decimal = Field(description="the sum of the lines' rounded amounts")
    negative: bool = Field(description="the total is below zero (a claw-back exceeds the month)")
    kwh: Decimal
    line_count: int
    finalized_at: datetime | None
    finalized_by: str | None
    handed_over_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    snapshot_sha256: str | None = Field(description="SHA-256 of the frozen snapshot")
    credited: Decimal = Field(description="what credit notes have credited so far")
    available_actions: list[StatementAction]
    created_at: datetime
    updated_at: datetime


class StatementLine(LineItem):
    prior_period: bool = Field(description="the line corrects a month before the statement's")


class StatementDetail(Statement):
    lines: list[StatementLine]
    pending_not_included: list[LineItem] | None = Field(
        description="drafts only: the employee's pending lines this draft leaves out"
    )


class StatementPage(Record):
    items: list[Statement]
    next_cursor: str | None


class FinalizedStatements(Record):
    items: list[Statement]


class DraftCounts(Record):
    created: int
    refreshed: int
    unchanged: int


class CreditNoteLine(Record):
    line_item_id: UUID
    amount: Decimal


class CreditNote(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    statement_id: UUID
    statement_number: str
    number: str = Field(description="C-YYYY-NNNNN")
    currency: str
    total: Decimal = Field(description="negative: what the note takes back")
    reason: str
    lines: list[CreditNoteLine]
    snapshot_sha256: str
    handed_over_at: datetime | None
    available_actions: list[CreditNoteAction]
    created_by: str
    created_at: datetime


class CreditNotePage(Record):
    items: list[CreditNote]
    next_cursor: str | None


class PayrollExport(Record):
    id: UUID
    fleet_id: UUID
    format: ExportFormat
    documents: int
    total: Decimal
    currency: str | None
    sha256: str
    created_by: str
    created_at: datetime


class PayrollExportPage(Record):
    items: list[PayrollExport]
    next_cursor: str | None


# Request bodies


class DraftsBody(Input):
    fleet_id: UUID
    period: Period
    employee_id: UUID | None = None


class FinalizeBody(Input):
    pass


class FinalizePeriodBody(Input):
    fleet_id: UUID
    period: Period


class VoidBody(Input):
    reason: Reason


CreditAmount = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4)]


class CreditLineBody(Input):
    line_item_id: UUID
    amount: CreditAmount | None = Field(default=None, description="absent: the whole line")


class CreditNoteCreate(Input):
    statement_id: UUID
    reason: Reason
    lines: list[CreditLineBody] = Field(min_length=1, max_length=MAX_CREDIT_LINES)


class ExportCreate(Input):
    fleet_id: UUID
    format: ExportFormat


DatevNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]+$")]


class DatevSettingsBody(Input):
    consultant_number: Annotated[DatevNumber, StringConstraints(max_length=7)] | None = None
    client_number: Annotated[DatevNumber, StringConstraints(max_length=5)] | None = None
    wage_type: Annotated[DatevNumber, StringConstraints(max_length=4)] | None = None


class FleetSettingsBody(Input):
    locale: LocaleTag | None = None
    statement_auto_finalize: bool | None = None
    datev: DatevSettingsBody | None = None


# Rows as the repositories hand them to the services


class StatementRow(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    period: str
    currency: str
    status: StatementStatus
    number: str | None
    total: Decimal
    kwh: Decimal
    line_count: int
    line_ids: list[UUID]
    finalized_at: datetime | None
    finalized_by: str | None
    handed_over_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    snapshot_sha256: str | None
    credited: Decimal = Decimal(0)
    created_at: datetime
    updated_at: datetime


class PricedLine(LineItem):
    """A line with the source of the tariff that priced it, as documents show it."""

    tariff_source: str | None


class CreditNoteRow(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    statement_id: UUID
    statement_number: str
    number: str
    currency: str
    total: Decimal
    reason: str
    lines: list[CreditNoteLine]
    snapshot_sha256: str
    handed_over_at: datetime | None
    created_by: str
    created_at: datetime
