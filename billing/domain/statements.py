"""Statements and credit notes as plain rules: what a draft collects, totals, numbers, the
grace days before a month is drafted, and what may be done next with a document."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Generic, Literal, Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from billing.domain.access import Principal
from billing.domain.currencies import minor_unit
from billing.domain.errors import Conflict, Forbidden, InvalidData
from billing.domain.line_items import LineItem

StatementStatus = Literal["draft", "finalized", "void"]
Series = Literal["S", "C"]
StatementAction = Literal["refresh", "finalize", "void", "credit", "pdf"]
CreditNoteAction = Literal["pdf"]


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def next_period(period: str) -> str:
    start = period_start(period)
    following = (start + timedelta(days=32)).replace(day=1)
    return following.strftime("%Y-%m")


def previous_period(period: str) -> str:
    start = period_start(period)
    return (start - timedelta(days=1)).strftime("%Y-%m")


def period_of(day: date) -> str:
    return day.strftime("%Y-%m")


def drafting_due(period: str, *, timezone: str, now: datetime, grace_days: int) -> bool:
    """Whether `grace_days` full days have passed since `period` ended in the fleet's zone."""
    local_today = now.astimezone(ZoneInfo(timezone)).date()
    return local_today >= period_start(next_period(period)) + timedelta(days=grace_days)


def closable_period(*, timezone: str, now: datetime, grace_days: int) -> str | None:
    """The month the worker drafts now: the last one whose grace days are over, if that is
    the month just ended (earlier months were drafted in their turn)."""
    local_today = now.astimezone(ZoneInfo(timezone)).date()
    last = previous_period(period_of(local_today))
    return last if drafting_due(last, timezone=timezone, now=now, grace_days=grace_days) else None


def format_number(series: Series, year: int, number: int) -> str:
    """`S-2026-00042`: series, calendar year, number zero-padded to at least five digits."""
    if number < 1:
        raise ValueError("document numbers start at 1")
    return f"{series}-{year:04d}-{number:05d}"


def is_prior_period(line_period: str, statement_period: str) -> bool:
    return line_period < statement_period


class OpenLine(Protocol):
    """What drafting needs of a line: a `LineItem`, or the slimmer `ClosingLine`."""

    @property
    def id(self) -> UUID: ...
    @property
    def charge_date(self) -> date: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def period(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def statement_id(self) -> UUID | None: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def kwh(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class ClosingLine:
    """An open line as finalization reads it: only what the draft and its document show,
    read as plain values (a month-end reads hundreds of thousands). `amount` has the
    currency's minor units."""

    id: UUID
    employee_id: UUID
    charge_date: date
    period: str
    kind: Literal["charge", "adjustment"]
    kwh: Decimal
    unit_price: Decimal
    currency: str
    amount: Decimal
    status: str
    statement_id: UUID | None
    created_at: datetime
    tariff_source: str | None


L = TypeVar("L", bound=OpenLine)


@dataclass(frozen=True, slots=True)
class Draft(Generic[L]):
    """What one draft statement holds: the approved lines of one currency, and the
    employee's pending lines it leaves out."""

    currency: str
    lines: tuple[L, ...]
    pending_not_included: tuple[L, ...]

    @property
    def line_ids(self) -> list[UUID]:
        return [line.id for line in self.lines]

    @property
    def total(self) -> Decimal:
        return statement_total(self.lines)

    @property
    def kwh(self) -> Decimal:
        return sum((line.kwh for line in self.lines), Decimal(0))

    @property
    def negative(self) -> bool:
        return self.total < 0


def statement_total(lines: Iterable[OpenLine]) -> Decimal:
    """The sum of the lines' amounts, each already rounded once when it was priced."""
    return sum((line.amount for line in lines), Decimal(0))


def _order(line: OpenLine) -> tuple[date, str, str]:
    return (line.charge_date, line.created_at.isoformat(), str(line.id))


def collect(period: str, open_lines: Sequence[L]) -> list[Draft[L]]:
    """The drafts of one employee for `period`, one per currency.

    `open_lines` are the employee's lines on no live statement. A draft takes the approved
    ones of `period` and earlier (late corrections of earlier months land here, marked
    prior-period); pending lines of those months are listed as not included. Later months'
    lines and rejected lines stay out.
    """
    approved: dict[str, list[L]] = defaultdict(list)
    pending: dict[str, list[L]] = defaultdict(list)
    for line in sorted(open_lines, key=_order):
        if line.period > period or line.statement_id is not None:
            continue
        if line.status == "approved":
            approved[line.currency].append(line)
        elif line.status == "pending":
            pending[line.currency].append(line)
    return [
        Draft(currency, tuple(approved[currency]), tuple(pending.get(currency, ())))
        for currency in sorted(approved)
    ]


def statement_actions(
    who: Principal,
    *,
    fleet_id: UUID,
    employee_id: UUID,
    status: StatementStatus,
    handed_over: bool,
    remaining: Decimal,
) -> list[StatementAction]:
    """What `who` may do next with a statement, as the API lists it."""
    actions: list[StatementAction] = []
    if status != "void" or who.role != "employee":
        actions.append("pdf")
    manages = who.role in ("admin", "manager") and who.sees(fleet_id, employee_id)
    if not manages or who.employee_id == employee_id:
        return actions
    if status == "draft":
        actions += ["refresh", "finalize"]
    elif status == "finalized" and not handed_over:
        actions.append("void")
    elif status == "finalized" and remaining > 0:
        actions.append("credit")
    return actions


def check_may_close(who: Principal, fleet_id: UUID) -> None:
    """Drafts, finalization, voids and credit notes: admins, and managers of the fleet."""
    who.check_manages(fleet_id)


def check_may_export(who: Principal, fleet_id: UUID) -> None:
    """Payroll exports: HR or a manager of the fleet (or an admin)."""
    who.check_sees(fleet_id)
    if who.role not in ("admin", "manager", "hr"):
        raise Forbidden(f"the {who.role} role may not create payroll exports")


PROBLEM_BASE = "https://fleet-billing.dev/problems/"


class NothingToExport(Conflict):
    """Every finalized statement and credit note of the fleet is already in an export."""

    problem_type = PROBLEM_BASE + "nothing-to-export"


def check_may_void(status: StatementStatus, handed_over: bool) -> None:
    if status == "draft":
        raise Conflict("a draft has no number to void; refresh or finalize it")
    if status == "void":
        raise Conflict("the statement is already void")
    if handed_over:
        raise Conflict("the statement went to payroll; correct it with a credit note instead")


@dataclass(frozen=True, slots=True)
class CreditRequest:
    line_item_id: UUID
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Credit:
    line_item_id: UUID
    amount: Decimal


def plan_credits(
    *,
    status: StatementStatus,
    handed_over: bool,
    statement_total_amount: Decimal,
    lines: Mapping[UUID, LineItem],
    credited: Mapping[UUID, Decimal],
    requests: Sequence[CreditRequest],
) -> list[Credit]:
    """The credits of a new credit note, checked against the statement.

    `lines` are the statement's lines, `credited` what earlier notes credited per line. A
    missing amount credits what is left of the line. Never more than a line is worth, never
    more than the statement's remaining total.
    """
    if status != "finalized":
        raise Conflict(f"a {status} statement takes no credit note")
    if not handed_over:
        raise Conflict("the statement has not gone to payroll yet; void it instead")
    if not requests:
        raise InvalidData("a credit note credits at least one line")
    seen: set[UUID] = set()
    credits: list[Credit] = []
    for request in requests:
        line = lines.get(request.line_item_id)
        if line is None:
            raise InvalidData(f"line item {request.line_item_id} is not on this statement")
        if request.line_item_id in seen:
            raise InvalidData(f"line item {request.line_item_id} is listed twice")
        seen.add(request.line_item_id)
        left = line.amount - credited.get(line.id, Decimal(0))
        amount = left if request.amount is None else request.amount
        if left <= 0:
            raise Conflict(f"line item {line.id} has nothing left to credit")
        if amount <= 0:
            raise InvalidData(f"line item {line.id}: a credit is a positive amount")
        if amount != amount.quantize(Decimal(1).scaleb(-minor_unit(line.currency))):
            raise InvalidData(f"amount {amount} has more decimals than {line.currency} allows")
        if amount > left:
            raise Conflict(f"line item {line.id} has only {left} {line.currency} left to credit")
        credits.append(Credit(line.id, amount))
    already = sum(credited.values(), Decimal(0))
    asked = sum((c.amount for c in credits), Decimal(0))
    if already + asked > statement_total_amount:
        left = statement_total_amount - already
        raise Conflict(f"the statement has only {left} left to credit")
    return credits
