"""Line items and charge records as the API shows them, and the bodies that decide them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from billing.domain.currencies import minor_unit
from billing.domain.models import Input, Record, Tariff

LineItemStatus = Literal["pending", "approved", "rejected"]
LineItemKind = Literal["charge", "adjustment"]
Decision = Literal["approve", "reject"]

Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Version = Annotated[int, Field(ge=1, le=2_147_483_647, description="the item's current version")]

MAX_DECISIONS = 500


class LineItem(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    vehicle_id: UUID
    charge_record_id: UUID
    charge_date: date
    period: str
    kind: LineItemKind
    adjusts_id: UUID | None
    kwh: Decimal
    unit_price: Decimal
    currency: str
    amount: Decimal
    tariff_id: UUID
    status: LineItemStatus
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    version: int
    statement_id: UUID | None
    created_at: datetime
    updated_at: datetime


class ChargeRecord(Record):
    id: UUID
    vehicle_id: UUID
    employee_id: UUID
    charge_date: date
    home_kwh: Decimal
    other_kwh: Decimal
    supercharger_kwh: Decimal
    total_kwh: Decimal
    source: str
    request_id: str | None
    fetched_at: datetime
    revision: int
    flags: list[str]
    created_at: datetime
    updated_at: datetime


class ChargeRecordReceived(ChargeRecord):
    """The record with the upstream payload exactly as it was received."""

    raw: Any


class Arithmetic(Record):
    """`kwh × unit_price = unrounded → amount`, rounded half-up to the currency's minor unit."""

    kwh: Decimal
    unit_price: Decimal
    unrounded: Decimal
    amount: Decimal
    currency: str
    minor_unit: int
    rounding: Literal["half_up"] = "half_up"
    formula: str


class Evidence(Record):
    stored: dict[str, Any] = Field(description="the evidence recorded when the line was priced")
    charge_record: ChargeRecordReceived
    tariff: Tariff
    arithmetic: Arithmetic
    chain: list[LineItem] = Field(
        description="the original charge line, then every adjustment of it, oldest first"
    )


class LineItemDetail(LineItem):
    evidence: Evidence


class LineItemPage(Record):
    items: list[LineItem]
    next_cursor: str | None


class ChargeRecordPage(Record):
    items: list[ChargeRecord]
    next_cursor: str | None


class DecisionResult(Record):
    items: list[LineItem]


# Request bodies


class ApproveBody(Input):
    version: Version


class RejectBody(Input):
    version: Version
    reason: Reason


class ReopenBody(Input):
    version: Version
    reason: Reason


class DecisionEntry(Input):
    id: UUID
    decision: Decision
    version: Version
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reject_needs_reason(self) -> DecisionEntry:
        if self.decision == "reject" and self.reason is None:
            raise ValueError("a rejection needs a reason")
        return self


class DecisionsBody(Input):
    decisions: list[DecisionEntry] = Field(min_length=1, max_length=MAX_DECISIONS)

    @model_validator(mode="after")
    def _one_decision_per_item(self) -> DecisionsBody:
        ids = [entry.id for entry in self.decisions]
        if len(set(ids)) != len(ids):
            raise ValueError("each line item may appear only once")
        return self


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly the currency's minor-unit digits (`12.3400` → `12.34` in EUR).

    Stored amounts never carry more digits than that (a trigger refuses them), so this only
    drops padding zeros of the wider column.
    """
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)))


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def arithmetic(item: LineItem) -> Arithmetic:
    """How the line's amount follows from its energy and price."""
    unrounded = item.kwh * item.unit_price
    return Arithmetic(
        kwh=item.kwh,
        unit_price=item.unit_price,
        unrounded=unrounded,
        amount=item.amount,
        currency=item.currency,
        minor_unit=minor_unit(item.currency),
        formula=(
            f"{_plain(item.kwh)} kWh × {_plain(item.unit_price)} {item.currency}/kWh"
            f" = {_plain(unrounded)} → {item.amount} {item.currency}"
        ),
    )
