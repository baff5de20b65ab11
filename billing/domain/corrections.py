"""Deliberate corrections of a past price: which tariffs change, and what that does to lines.

A correction names a tariff, a price and a range inside the tariff's range. Tariffs are never
edited (lines were priced with their figures): each tariff in force in the named tariff's scope
that overlaps the range is *replaced* by up to three new tariffs, the part before the range at
its old price, the part inside at the corrected price, and the part after at its old price.
The tariffs in force that descend from a tariff therefore always cover exactly its original
range, so a correction may name a tariff that is already replaced, and asking again for a
price the tariffs already have replaces nothing and changes nothing.

Then the days whose price changed are re-priced exactly as the ledger re-prices records
(`preview_correction`): pending lines follow the new price, decided lines get a pending
adjustment for the difference. A fleet default concerns every employee of the fleet on the
days they have no tariff of their own; an employee's tariff concerns that employee only. A
preview is the same plan, described without being applied.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import BeforeValidator, Field, model_validator

from billing.domain.errors import InvalidData
from billing.domain.ledger import (
    Action,
    LineState,
    UpdatePending,
)
from billing.domain.models import Input, Price
from billing.domain.pricing import TariffRange
from billing.domain.repricing import (
    CorrectionPreview,
    LineChange,
    RecordLedger,
    RecordPlan,
    preview_correction,
)

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# The scale of tariffs.price_per_kwh, so planned and stored prices read the same.
PRICE_QUANTUM = Decimal("0.000001")


def _calendar_date(value: object) -> object:
    # pydantic alone reads 0 or "0" as the Unix epoch; a correction's dates are calendar days.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]


class CorrectionBody(Input):
    price_per_kwh: Price
    from_: CalendarDate | None = Field(
        default=None,
        alias="from",
        description="first corrected day; default: the tariff's valid_from",
    )
    to: CalendarDate | None = Field(
        default=None,
        description="exclusive; default: the tariff's valid_to (open-ended if it has none)",
    )

    @model_validator(mode="after")
    def _range(self) -> CorrectionBody:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise ValueError("to must be after from")
        return self


def corrected_range(
    valid_from: date, valid_to: date | None, body: CorrectionBody
) -> tuple[date, date | None]:
    """The range `[from, to)` a correction of a tariff valid over `[valid_from, valid_to)` covers.

    It must lie within the tariff's range; either end defaults to the tariff's.
    """
    start = body.from_ if body.from_ is not None else valid_from
    end = body.to if body.to is not None else valid_to
    if start < valid_from:
        raise InvalidData(f"from {start} is before the tariff's valid_from {valid_from}")
    if valid_to is not None:
        if start >= valid_to:
            raise InvalidData(f"from {start} is not before the tariff's valid_to {valid_to}")
        if end is None or end > valid_to:
            raise InvalidData(f"to {end} is after the tariff's valid_to {valid_to}")
    if end is not None and end <= start:
        raise InvalidData("to must be after from")
    return start, end


@dataclass(frozen=True, slots=True)
class Split:
    """The tariffs a correction replaces, and the tariffs that replace them."""

    price_per_kwh: Decimal
    replaced: tuple[TariffRange, ...]
    created: tuple[TariffRange, ...]

    @property
    def corrected(self) -> tuple[TariffRange, ...]:
        """The created tariffs at the corrected price: their days are the days that change."""
        return tuple(t for t in self.created if t.price_per_kwh == self.price_per_kwh)


def _before(a: date | None, b: date | None) -> bool:
    """`a < b` for range ends, where None is the open end."""
    return a is not None and (b is None or a < b)


def split_tariffs(
    in_force: Sequence[TariffRange], price: Decimal, start: date, end: date | None
) -> Split:
    """Replace each of `in_force` (one scope) that overlaps `[start, end)` at another price.

    A created tariff's id is derived from the tariff it replaces and its first day, so a
    preview names the ids applying will create.
    """
    price = price.quantize(PRICE_QUANTUM)
    replaced: list[TariffRange] = []
    created: list[TariffRange] = []
    for old in sorted(in_force, key=lambda t: t.valid_from):
        overlaps = _before(old.valid_from, end) and _before(start, old.valid_to)
        if not overlaps or old.price_per_kwh == price:
            continue
        replaced.append(old)
        inner_from = max(old.valid_from, start)
        inner_to = end if _before(end, old.valid_to) else old.valid_to
        parts = [(inner_from, inner_to, price)]
        if old.valid_from < start:
            parts.insert(0, (old.valid_from, start, old.price_per_kwh))
        if end is not None and _before(end, old.valid_to):
            parts.append((end, old.valid_to, old.price_per_kwh))
        for valid_from, valid_to, part_price in parts:
            created.append(
                TariffRange(
                    id=uuid5(old.id, valid_from.isoformat()),
                    employee_id=old.employee_id,
                    price_per_kwh=part_price,
                    currency=old.currency,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    source=old.source,
                )
            )
    return Split(price, tuple(replaced), tuple(created))


@dataclass(frozen=True, slots=True)
class EmployeeBooks:
    """One employee's side of a correction: the records to re-price, with their lines.

    `tariffs` are those in force for the employee before the correction (own and fleet
    defaults). With a monthly cap, `records` are all of the employee's records in the periods
    concerned, as `plan_repricing` requires.
    """

    employee_id: UUID
    monthly_cap: Decimal | None
    tariffs: tuple[TariffRange, ...]
    records: tuple[RecordLedger, ...]


@dataclass(frozen=True, slots=True)
class CorrectionPlan:
    split: Split
    employees: tuple[tuple[EmployeeBooks, CorrectionPreview], ...]

    def tariffs(self) -> dict[UUID, TariffRange]:
        """Every tariff a line is priced with once the correction is applied, by id."""
        found = {t.id: t for books, _ in self.employees for t in books.tariffs}
        found.update((t.id, t) for t in self.split.created)
        return found


def plan_correction(books: Sequence[EmployeeBooks], split: Split) -> CorrectionPlan:
    """Re-price each employee's records with the tariffs as the correction leaves them."""
    replaced = {t.id for t in split.replaced}
    planned = []
    for b in books:
        tariffs = [t for t in b.tariffs if t.id not in replaced]
        tariffs += [t for t in split.created if t.employee_id in (None, b.employee_id)]
        preview = preview_correction(b.records, tariffs, monthly_cap=b.monthly_cap)
        planned.append((b, _money_only(preview)))
    return CorrectionPlan(split, tuple(planned))


def _same_money(line: LineState, update: UpdatePending) -> bool:
    before = (line.kwh, line.unit_price, line.amount, line.currency)
    return before == (update.kwh, update.unit_price, update.amount, update.currency)


def _money_only(preview: CorrectionPreview) -> CorrectionPreview:
    """`preview` without the updates that would only point a line at another tariff.

    Such an update moves a line off a replaced tariff onto the part of it kept at the same
    price, on a day the correction does not change (a cap re-plans whole periods). The line
    keeps the tariff it was priced with, whose figures still explain it, and its version, so
    no one deciding it meanwhile is told it changed.
    """
    changes = iter(preview.changes)
    plans: list[RecordPlan] = []
    kept: list[LineChange] = []
    for plan in preview.plans:
        actions: list[Action] = []
        for action in plan.actions:
            change = next(changes)
            if isinstance(action, UpdatePending) and change.was and _same_money(change.was, action):
                continue
            actions.append(action)
            kept.append(change)
        plans.append(dataclasses.replace(plan, actions=tuple(actions)))
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for change in kept:
        totals[change.currency] += change.amount
        if change.was is not None:
            totals[change.was.currency] -= change.was.amount
    return dataclasses.replace(
        preview, plans=tuple(plans), changes=tuple(kept), totals=tuple(sorted(totals.items()))
    )
