"""Statements and credit notes as documents: what is shown, and the frozen snapshot format.

A `StatementDocument` is everything a statement or credit note shows (fleet and employee
details, lines with dates, kWh, prices and tariff sources, totals). Finalizing stores
`doc.model_dump(mode="json")` as the document's snapshot with `snapshot_sha256(doc)`; the
PDF, the web page and any later reading are rendered from that snapshot only, so what was
finalized is what is shown forever.

Canonical form, so the same content always has the same bytes and hash:
- money has exactly the currency's minor-unit digits (`41.37` EUR, `41` JPY, `41.370` KWD),
  kWh exactly 4 decimals, prices per kWh exactly 6 (the database's scales); a value that
  would need rounding is refused, never rounded here (amounts are rounded once, when priced);
- every decimal is a JSON string, never a float; `-0` is written `0`;
- `issued_at` is UTC; `canonical_json` sorts keys and uses compact separators, UTF-8.

Credit notes carry the lines they credit with the credited amount as a negative number and
the original line's date, kWh, price and tariff source; their `total` is negative and
`references_number` is the credited statement's number.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from billing.domain.currencies import MINOR_UNITS
from billing.domain.line_items import Period
from billing.domain.models import Currency, TimeZone
from billing.domain.pricing import as_money

DocumentKind = Literal["statement", "credit_note"]
DocumentStatus = Literal["draft", "finalized", "void"]
LineKind = Literal["charge", "adjustment"]

KWH_DECIMALS = 4
PRICE_DECIMALS = 6

_NUMBER = re.compile(r"^(?P<prefix>[SC])-(?P<year>[0-9]{4})-(?P<seq>[0-9]{5,})$")
_PREFIX: dict[str, str] = {"statement": "S", "credit_note": "C"}
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2}|-[0-9]{3})?$")


def _positive_zero(value: Decimal) -> Decimal:
    return abs(value) if value.is_zero() else value


def _exact(value: Decimal, decimals: int, what: str) -> Decimal:
    """`value` with exactly `decimals` digits after the point; refuses one that needs rounding."""
    if not value.is_finite():
        raise ValueError(f"{what} must be a finite number")
    quantum = Decimal(1).scaleb(-decimals)
    try:
        fixed = value.quantize(quantum)
    except InvalidOperation:
        raise ValueError(f"{what} {value} is too large") from None
    if fixed != value:
        raise ValueError(f"{what} {value} has more than {decimals} decimals")
    return _positive_zero(fixed)


def _kwh(value: Decimal) -> Decimal:
    return _exact(value, KWH_DECIMALS, "kWh")


def _price(value: Decimal | None) -> Decimal | None:
    return None if value is None else _exact(value, PRICE_DECIMALS, "unit price")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("issued_at needs a time zone")
    return value.astimezone(UTC)


def _check_locale(value: str) -> str:
    if not _LOCALE.match(value):
        raise ValueError(f"{value!r} is not a locale tag like 'de-DE' or 'en-US'")
    try:
        Locale.parse(value, sep="-")
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{value!r} is not a locale babel knows") from None
    return value


Kwh = Annotated[Decimal, AfterValidator(_kwh)]
UnitPrice = Annotated[Decimal | None, AfterValidator(_price)]
UtcDatetime = Annotated[datetime | None, AfterValidator(_utc)]
LocaleTag = Annotated[str, AfterValidator(_check_locale)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _money(value: Any, currency: str, what: str) -> Any:
    """Money with the currency's exponent; leaves anything else to field validation."""
    if isinstance(value, float):
        raise ValueError(f"{what} must be a Decimal or a decimal string, never a float")
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number")
    try:
        return _positive_zero(as_money(number, currency))
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FleetDetails(Frozen):
    id: UUID
    name: ShortText
    currency: Currency
    timezone: TimeZone
    locale: LocaleTag = Field(description="how money and dates are written, e.g. 'de-DE'")


class EmployeeDetails(Frozen):
    id: UUID
    name: ShortText
    external_ref: ShortText = Field(description="the employer's personnel number")


class DocumentLine(Frozen):
    line_item_id: UUID
    charge_date: date
    period: Period = Field(description="the period the line belongs to, `YYYY-MM`")
    kind: LineKind
    vehicle_name: ShortText | None = None
    kwh: Kwh
    unit_price: UnitPrice = None
    amount: Decimal = Field(description="money with the document currency's minor units")
    tariff_source: Text | None = None
    prior_period: bool = Field(description="the line's period is earlier than the document's")


class StatementDocument(Frozen):
    """A statement or credit note exactly as it is shown; also the frozen snapshot format."""

    kind: DocumentKind
    document_id: UUID = Field(description="the statement's or credit note's id")
    number: str | None = Field(description="`S-YYYY-NNNNN` / `C-YYYY-NNNNN`; null for drafts")
    status: DocumentStatus
    fleet: FleetDetails
    employee: EmployeeDetails
    period: Period
    currency: Currency
    issued_at: UtcDatetime = Field(description="finalization (statement) or issue (credit note)")
    lines: tuple[DocumentLine, ...]
    total: Decimal = Field(description="the sum of the lines' amounts")
    kwh: Kwh = Field(description="the sum of the lines' kWh")
    references_number: str | None = Field(
        default=None, description="for a credit note, the number of the credited statement"
    )
    reason: Text | None = Field(
        default=None, description="why a credit note was issued or a statement voided"
    )
    pending_not_included: tuple[DocumentLine, ...] = Field(
        default=(), description="drafts only: the period's pending lines, not on the statement"
    )

    @model_validator(mode="before")
    @classmethod
    def _money_in_minor_units(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        currency = data.get("currency")
        if not isinstance(currency, str) or currency not in MINOR_UNITS:
            return data
        fixed = dict(data)
        if "total" in fixed:
            fixed["total"] = _money(fixed["total"], currency, "total")
        for key in ("lines", "pending_not_included"):
            lines = fixed.get(key)
            if isinstance(lines, list | tuple):
                fixed[key] = [_line_money(line, currency) for line in lines]
        return fixed

    @model_validator(mode="after")
    def _consistent(self) -> StatementDocument:
        self.check_consistent()
        return self

    def check_consistent(self) -> None:
        """The document-wide rules (numbers, totals, periods); raises ValueError."""
        self._check_number()
        self._check_lines()
        if self.total != sum((line.amount for line in self.lines), Decimal(0)):
            raise ValueError(f"total {self.total} is not the sum of the lines")
        if self.kwh != sum((line.kwh for line in self.lines), Decimal(0)):
            raise ValueError(f"kwh {self.kwh} is not the sum of the lines")
        if self.kind == "credit_note":
            if self.references_number is None or not self.references_number.startswith("S-"):
                raise ValueError("a credit note references the credited statement's number")
            if self.reason is None:
                raise ValueError("a credit note needs a reason")
            if not self.lines or any(line.amount >= 0 for line in self.lines):
                raise ValueError("a credit note credits lines with negative amounts")
        elif self.references_number is not None:
            raise ValueError("only a credit note references a statement number")
        if self.status == "void" and self.reason is None:
            raise ValueError("a void document needs the void reason")
        if self.pending_not_included and self.status != "draft":
            raise ValueError("only a draft lists pending lines")

    def _check_number(self) -> None:
        if self.status == "draft":
            if self.number is not None or self.issued_at is not None:
                raise ValueError("a draft has no number and no issue time")
            if self.kind == "credit_note":
                raise ValueError("credit notes are issued, never drafts")
            return
        if self.kind == "credit_note" and self.status != "finalized":
            raise ValueError("a credit note is always finalized (issued)")
        if self.number is None or self.issued_at is None:
            raise ValueError(f"a {self.status} document has a number and an issue time")
        for number in (self.number, self.references_number):
            if number is not None and not _NUMBER.match(number):
                raise ValueError(f"{number!r} is not a document number like 'S-2026-00001'")
        if self.number[0] != _PREFIX[self.kind]:
            raise ValueError(f"a {self.kind} number starts with {_PREFIX[self.kind]}-")

    def _check_lines(self) -> None:
        ids = [line.line_item_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("a line item appears on a document only once")
        for line in (*self.lines, *self.pending_not_included):
            if line.period > self.period:
                raise ValueError(f"line of {line.period} is later than the document's period")
            if line.prior_period != (line.period < self.period):
                raise ValueError(
                    f"line {line.line_item_id}: prior_period must be "
                    f"{line.period < self.period} for period {line.period}"
                )

    @property
    def negative_total(self) -> bool:
        """A statement whose prior-period claw-backs exceed the month (always for credit notes)."""
        return self.total < 0

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def prior_period_lines(self) -> tuple[DocumentLine, ...]:
        return tuple(line for line in self.lines if line.prior_period)


def trusted_line(**values: Any) -> DocumentLine:
    """A `DocumentLine` from values already in their canonical form (every field given):
    what `DocumentLine.model_construct` makes, without its per-field search for aliases and
    defaults, for the hundreds of thousands of lines of a month-end."""
    line = DocumentLine.__new__(DocumentLine)
    object.__setattr__(line, "__dict__", values)
    object.__setattr__(line, "__pydantic_fields_set__", set(_LINE_FIELDS))
    object.__setattr__(line, "__pydantic_extra__", None)
    object.__setattr__(line, "__pydantic_private__", None)
    return line


_LINE_FIELDS = frozenset(DocumentLine.model_fields)


def checked_kwh(value: Decimal) -> Decimal:
    """kWh as a document holds it (exactly 4 decimals); refuses one that needs rounding."""
    return _kwh(value)


def checked_unit_price(value: Decimal | None) -> Decimal | None:
    return _price(value)


def checked_utc(value: datetime) -> datetime:
    fixed = _utc(value)
    assert fixed is not None
    return fixed


def checked_money(value: Decimal, currency: str, what: str) -> Decimal:
    """Money with the currency's minor units, as a document holds it; refuses rounding."""
    fixed = _money(value, currency, what)
    assert isinstance(fixed, Decimal)
    return fixed


def _line_money(line: Any, currency: str) -> Any:
    if isinstance(line, DocumentLine):
        line = line.model_dump()
    if isinstance(line, dict) and "amount" in line:
        return {**line, "amount": _money(line["amount"], currency, "line amount")}
    return line


def canonical_json(doc: StatementDocument) -> bytes:
    """The snapshot's bytes: sorted keys, compact separators, UTF-8."""
    return json.dumps(
        doc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def snapshot_sha256(doc: StatementDocument) -> str:
    """Hex SHA-256 of `canonical_json(doc)`."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def from_snapshot(snapshot: dict[str, Any] | str | bytes) -> StatementDocument:
    """The document back from a stored snapshot (a dict or its JSON)."""
    if isinstance(snapshot, dict):
        return StatementDocument.model_validate(snapshot)
    return StatementDocument.model_validate_json(snapshot)
