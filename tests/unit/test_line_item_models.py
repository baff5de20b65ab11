"""Line item values: amounts in minor units, the arithmetic shown as evidence, decision bodies."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from billing.domain.line_items import DecisionsBody, RejectBody, arithmetic, in_minor_units
from tests.unit.test_decisions import item


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("12.3400", "EUR", "12.34"),
        ("12.0000", "JPY", "12"),
        ("1.2340", "KWD", "1.234"),
        ("-0.5000", "EUR", "-0.50"),
        ("0.0000", "CLF", "0.0000"),
    ],
)
def test_amounts_carry_exactly_the_minor_unit(amount: str, currency: str, shown: str) -> None:
    assert str(in_minor_units(Decimal(amount), currency)) == shown


def test_arithmetic_explains_the_amount() -> None:
    line = item().model_copy(
        update={
            "kwh": Decimal("12.3456"),
            "unit_price": Decimal("0.300000"),
            "amount": Decimal("3.70"),
        }
    )
    shown = arithmetic(line)
    assert shown.unrounded == Decimal("3.7036800000")
    assert shown.minor_unit == 2
    assert shown.formula == "12.3456 kWh × 0.3 EUR/kWh = 3.70368 → 3.70 EUR"


def test_reject_reason_is_trimmed_and_required() -> None:
    assert RejectBody.model_validate({"version": 1, "reason": "  late  "}).reason == "late"
    with pytest.raises(ValidationError):
        RejectBody.model_validate({"version": 1, "reason": "   "})


def test_decisions_body_limits() -> None:
    entry = {"id": str(uuid.uuid4()), "decision": "approve", "version": 1}
    with pytest.raises(ValidationError, match="only once"):
        DecisionsBody.model_validate({"decisions": [entry, entry]})
    with pytest.raises(ValidationError, match="needs a reason"):
        DecisionsBody.model_validate({"decisions": [{**entry, "decision": "reject"}]})
    many = [{**entry, "id": str(uuid.uuid4())} for _ in range(501)]
    with pytest.raises(ValidationError):
        DecisionsBody.model_validate({"decisions": many})
