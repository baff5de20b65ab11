"""What a tariff correction shows, previewed or applied: its tariffs, every line it changes or
creates, the totals, and the days no tariff covers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, assert_never
from uuid import UUID

from pydantic import Field

from billing.domain.corrections import PRICE_QUANTUM, CorrectionPlan
from billing.domain.ledger import (
    CreateAdjustment,
    CreateCharge,
    LineState,
    UpdatePending,
)
from billing.domain.line_items import LineItemKind, in_minor_units
from billing.domain.models import Record
from billing.domain.pricing import TariffRange

# What the API shows of a plan, previewed or applied


class TariffPiece(Record):
    id: UUID
    employee_id: UUID | None
    price_per_kwh: Decimal
    currency: str
    valid_from: date
    valid_to: date | None


class LineFigures(Record):
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    tariff_id: UUID


class UpdatedLine(Record):
    """A pending line that follows the corrected price."""

    id: UUID
    charge_record_id: UUID
    employee_id: UUID
    charge_date: date
    kind: LineItemKind
    version: int = Field(description="the line's version once the correction is applied")
    before: LineFigures
    after: LineFigures


class CreatedLine(Record):
    """A new pending line: an adjustment of a decided line, or a charge line for a new day."""

    id: UUID | None = Field(default=None, description="null in a preview")
    charge_record_id: UUID
    employee_id: UUID
    charge_date: date
    kind: LineItemKind
    adjusts_id: UUID | None
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    tariff_id: UUID


class CurrencyTotal(Record):
    currency: str
    difference: Decimal = Field(description="what the correction adds to the lines' sum")


class UnpricedDay(Record):
    charge_record_id: UUID
    employee_id: UUID
    charge_date: date
    home_kwh: Decimal


class Correction(Record):
    """A correction previewed or applied: its tariffs, every line it touches, the totals."""

    id: UUID | None = Field(
        description="the stored correction; null in a preview, and when applying changed "
        "nothing because the tariffs already had this price"
    )
    applied: bool
    tariff_id: UUID
    fleet_id: UUID
    employee_id: UUID | None
    price_per_kwh: Decimal
    valid_from: date
    valid_to: date | None = Field(description="exclusive; null: open-ended")
    replaced_tariffs: list[TariffPiece]
    new_tariffs: list[TariffPiece]
    updated: list[UpdatedLine]
    created: list[CreatedLine]
    totals: list[CurrencyTotal]
    unpriced: list[UnpricedDay] = Field(
        description="days with home kWh that no tariff covers: they stay without a line"
    )


def _piece(t: TariffRange) -> TariffPiece:
    return TariffPiece(
        id=t.id,
        employee_id=t.employee_id,
        price_per_kwh=t.price_per_kwh,
        currency=t.currency,
        valid_from=t.valid_from,
        valid_to=t.valid_to,
    )


def _figures(line: LineState) -> LineFigures:
    return LineFigures(
        kwh=line.kwh,
        unit_price=line.unit_price,
        amount=in_minor_units(line.amount, line.currency),
        currency=line.currency,
        tariff_id=line.tariff_id,
    )


@dataclass(frozen=True, slots=True)
class CorrectionRequest:
    """What was asked: the tariff named and its scope, the price and the range covered."""

    tariff_id: UUID
    fleet_id: UUID
    employee_id: UUID | None
    price_per_kwh: Decimal
    valid_from: date
    valid_to: date | None


def _updated(was: LineState, action: UpdatePending, where: dict[str, Any]) -> UpdatedLine:
    after = LineFigures(
        kwh=action.kwh,
        unit_price=action.unit_price,
        amount=action.amount,
        currency=action.currency,
        tariff_id=action.tariff_id,
    )
    return UpdatedLine(
        id=was.id,
        kind=was.kind,
        version=was.version + 1,
        before=_figures(was),
        after=after,
        **where,
    )


def _created(action: CreateCharge | CreateAdjustment, where: dict[str, Any]) -> CreatedLine:
    match action:
        case CreateCharge(priced=p):
            kind: LineItemKind = "charge"
            adjusts_id, kwh, unit_price, amount = None, p.kwh, p.unit_price, p.amount
            currency, tariff_id = p.currency, p.tariff_id
        case CreateAdjustment() as a:
            kind = "adjustment"
            adjusts_id, kwh, unit_price, amount = (
                a.adjusts_id,
                a.kwh_delta,
                a.unit_price,
                a.amount_delta,
            )
            currency, tariff_id = a.currency, a.tariff_id
        case _:
            assert_never(action)
    return CreatedLine(
        kind=kind,
        adjusts_id=adjusts_id,
        kwh=kwh,
        unit_price=unit_price,
        amount=amount,
        currency=currency,
        tariff_id=tariff_id,
        **where,
    )


def describe(
    request: CorrectionRequest,
    plan: CorrectionPlan,
    *,
    correction_id: UUID | None = None,
    written_ids: Sequence[UUID] | None = None,
) -> Correction:
    """The plan as the API shows it.

    `written_ids` are the ids of the rows applying wrote, one per action in plan order (None
    for a preview, whose new lines have no id yet).
    """
    updated: list[UpdatedLine] = []
    created: list[CreatedLine] = []
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    unpriced: list[UnpricedDay] = []
    ids = iter(written_ids) if written_ids is not None else None
    for books, preview in plan.employees:
        records = {r.record_id: r for r in books.records}
        lines = {line.id: line for r in books.records for line in r.lines}
        for currency, difference in preview.totals:
            totals[currency] += difference
        for record_id in preview.unpriced:
            r = records[record_id]
            unpriced.append(
                UnpricedDay(
                    charge_record_id=r.record_id,
                    employee_id=books.employee_id,
                    charge_date=r.charge_date,
                    home_kwh=r.home_kwh,
                )
            )
        for record_plan in preview.plans:
            r = records[record_plan.record_id]
            where: dict[str, Any] = {
                "charge_record_id": r.record_id,
                "employee_id": books.employee_id,
                "charge_date": r.charge_date,
            }
            for action in record_plan.actions:
                written = next(ids) if ids is not None else None
                if isinstance(action, UpdatePending):
                    updated.append(_updated(lines[action.line_id], action, where))
                else:
                    created.append(_created(action, where).model_copy(update={"id": written}))
    return Correction(
        id=correction_id,
        applied=written_ids is not None,
        tariff_id=request.tariff_id,
        fleet_id=request.fleet_id,
        employee_id=request.employee_id,
        price_per_kwh=request.price_per_kwh.quantize(PRICE_QUANTUM),
        valid_from=request.valid_from,
        valid_to=request.valid_to,
        replaced_tariffs=[_piece(t) for t in plan.split.replaced],
        new_tariffs=[_piece(t) for t in plan.split.created],
        updated=updated,
        created=created,
        totals=[
            CurrencyTotal(currency=c, difference=in_minor_units(d, c))
            for c, d in sorted(totals.items())
        ],
        unpriced=unpriced,
    )
