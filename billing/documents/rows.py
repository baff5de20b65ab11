"""One finalized statement or credit note as a row of a payroll export."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from billing.domain.documents import StatementDocument
from billing.domain.line_items import Period
from billing.domain.models import Currency
from billing.domain.pricing import as_money

DocumentType = Literal["statement", "credit_note"]

_KWH_QUANTUM = Decimal("0.0001")


class ExportError(ValueError):
    """A payroll file cannot be written from these rows; the message says why."""


class ExportRow(BaseModel):
    """One document in a payroll export."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    type: DocumentType
    employee_external_ref: str
    employee_name: str
    period: Period
    currency: Currency
    amount: Decimal
    kwh: Decimal
    referenced_number: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ExportRow:
        as_money(self.amount, self.currency)  # refuses an amount that would need rounding
        if self.kwh != self.kwh.quantize(_KWH_QUANTUM):
            raise ValueError("kwh has more than 4 decimals")
        if self.type == "credit_note":
            if self.amount >= 0:
                raise ValueError("a credit note's amount is negative")
            if self.referenced_number is None:
                raise ValueError("a credit note references the credited statement")
        elif self.referenced_number is not None:
            raise ValueError("only a credit note references a statement")
        return self

    @classmethod
    def from_document(cls, doc: StatementDocument) -> ExportRow:
        """The row of a finalized statement or credit note."""
        if doc.status != "finalized" or doc.number is None:
            raise ExportError(f"only finalized documents are exported, not a {doc.status} one")
        return cls(
            number=doc.number,
            type=doc.kind,
            employee_external_ref=doc.employee.external_ref,
            employee_name=doc.employee.name,
            period=doc.period,
            currency=doc.currency,
            amount=doc.total,
            kwh=doc.kwh,
            referenced_number=doc.references_number,
        )

    def amount_text(self) -> str:
        """The amount with exactly the currency's minor units, `-5.35`, `413`."""
        money = as_money(self.amount, self.currency)
        return format(abs(money) if money.is_zero() else money, "f")

    def kwh_text(self) -> str:
        return format(self.kwh.quantize(_KWH_QUANTUM), "f")
