"""The document model: canonical money, consistency rules, snapshot bytes and hash."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from billing.domain.documents import (
    StatementDocument,
    canonical_json,
    from_snapshot,
    snapshot_sha256,
)
from tests.document_factories import credit_note, line, statement


def test_amounts_take_the_currencys_minor_units() -> None:
    doc = statement(lines=1, extra=(line(99, amount="37.1200"),))
    dumped = doc.model_dump(mode="json")
    assert dumped["total"] == "41.37"
    assert [item["amount"] for item in dumped["lines"]] == ["4.25", "37.12"]
    assert dumped["lines"][0]["kwh"] == "12.5000"
    assert dumped["lines"][0]["unit_price"] == "0.340000"


def test_yen_and_dinar_keep_their_own_minor_units() -> None:
    yen = statement(lines=0, currency="JPY", extra=(line(1, amount="413"),))
    assert yen.model_dump(mode="json")["total"] == "413"
    dinar = statement(lines=0, currency="KWD", extra=(line(1, amount="1.5"),))
    assert dinar.model_dump(mode="json")["total"] == "1.500"


def test_an_amount_that_needs_rounding_is_refused() -> None:
    with pytest.raises(ValidationError, match="more decimals than EUR allows"):
        statement(lines=0, extra=(line(1, amount="4.255"),))


def test_total_must_be_the_sum_of_the_lines() -> None:
    with pytest.raises(ValidationError, match="not the sum of the lines"):
        statement(lines=2, total=Decimal("9.99"))


def test_kwh_must_be_the_sum_of_the_lines() -> None:
    with pytest.raises(ValidationError, match=r"kwh .* not the sum"):
        statement(lines=2, kwh=Decimal("1.0000"))


def test_negative_zero_is_written_as_zero() -> None:
    doc = statement(lines=0, extra=(line(1, amount="-0.00", kwh="-0.0000"),))
    dumped = doc.model_dump(mode="json")
    assert dumped["total"] == "0.00"
    assert dumped["lines"][0]["amount"] == "0.00"
    assert dumped["kwh"] == "0.0000"


def test_a_draft_has_no_number() -> None:
    draft = statement(status="draft", lines=1)
    with pytest.raises(ValidationError, match="a draft has no number"):
        StatementDocument.model_validate({**draft.model_dump(), "number": "S-2026-00001"})
    assert draft.number is None
    assert draft.is_draft


def test_a_finalized_statement_needs_a_number_of_its_series() -> None:
    with pytest.raises(ValidationError, match="has a number"):
        statement(number=None)
    with pytest.raises(ValidationError, match="starts with S-"):
        statement(number="C-2026-00001")
    with pytest.raises(ValidationError, match="not a document number"):
        statement(number="S-26-1")


def test_issue_time_is_stored_in_utc_and_must_be_aware() -> None:
    berlin = timezone(timedelta(hours=1))
    doc = statement(issued_at=datetime(2026, 12, 4, 10, 30, tzinfo=berlin))
    assert doc.model_dump(mode="json")["issued_at"] == "2026-12-04T09:30:00Z"
    with pytest.raises(ValidationError, match="needs a time zone"):
        statement(issued_at=datetime(2026, 12, 4, 10, 30))  # naive: no tzinfo


def test_prior_period_must_match_the_lines_period() -> None:
    late = line(5, period="2026-10", amount="-3.00")
    doc = statement(lines=3, extra=(late,))
    assert doc.prior_period_lines == (late,)
    wrong = late.model_copy(update={"prior_period": False})
    with pytest.raises(ValidationError, match="prior_period must be True"):
        statement(lines=0, extra=(wrong,))
    with pytest.raises(ValidationError, match="later than the document's period"):
        statement(lines=0, extra=(line(1, period="2026-12", statement_period="2026-12"),))


def test_negative_total_is_flagged() -> None:
    claw_back = line(5, period="2026-10", amount="-30.00")
    assert statement(lines=2, extra=(claw_back,)).negative_total
    assert not statement(lines=2).negative_total


def test_a_line_appears_once() -> None:
    with pytest.raises(ValidationError, match="only once"):
        statement(lines=0, extra=(line(1), line(1)))


def test_credit_note_rules() -> None:
    note = credit_note()
    assert note.total == Decimal("-5.35")
    assert note.negative_total
    with pytest.raises(ValidationError, match="negative amounts"):
        credit_note(amounts=("4.25",))
    with pytest.raises(ValidationError, match="references the credited"):
        StatementDocument.model_validate({**note.model_dump(), "references_number": None})
    with pytest.raises(ValidationError, match="only a credit note references"):
        statement(references_number="S-2026-00001")


def test_void_needs_a_reason_and_unknown_fields_are_refused() -> None:
    assert statement(status="void").reason == "wrong tariff for November"
    with pytest.raises(ValidationError, match="void reason"):
        statement(status="void", reason=None)
    with pytest.raises(ValidationError, match="Extra inputs"):
        StatementDocument.model_validate({**statement().model_dump(), "colour": "red"})


def test_locale_must_be_one_babel_knows() -> None:
    assert statement(locale="en-US").fleet.locale == "en-US"
    with pytest.raises(ValidationError, match="not a locale"):
        statement(locale="xx-YY")
    with pytest.raises(ValidationError, match="not a locale tag"):
        statement(locale="de_DE")


def test_documents_are_frozen() -> None:
    doc = statement(lines=1)
    with pytest.raises(ValidationError, match="frozen"):
        doc.total = Decimal("1.00")  # type: ignore[misc]  # assigning is what is refused


def test_snapshot_round_trip_keeps_bytes_and_hash() -> None:
    doc = statement(extra=(line(40, period="2026-10", amount="-2.00"),))
    stored = json.loads(json.dumps(doc.model_dump(mode="json")))
    again = from_snapshot(stored)
    assert again == doc
    assert canonical_json(again) == canonical_json(doc)
    assert from_snapshot(canonical_json(doc)) == doc
    assert snapshot_sha256(doc) == hashlib.sha256(canonical_json(doc)).hexdigest()
    raw = canonical_json(doc)
    assert b", " not in raw
    assert b": " not in raw
    assert list(json.loads(raw)) == sorted(json.loads(raw))


def test_hash_follows_the_content() -> None:
    assert snapshot_sha256(statement()) == snapshot_sha256(statement())
    assert snapshot_sha256(statement()) != snapshot_sha256(statement(number="S-2026-00018"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(10**8), max_value=10**8),
            st.integers(min_value=0, max_value=10**7),
        ),
        max_size=12,
    ),
    st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_snapshot_round_trip_property(values: list[tuple[int, int]], currency: str) -> None:
    from billing.domain.currencies import minor_unit

    digits = minor_unit(currency)
    extra = tuple(
        line(n, amount=str(Decimal(minor).scaleb(-digits)), kwh=str(Decimal(kwh).scaleb(-4)))
        for n, (minor, kwh) in enumerate(values)
    )
    doc = statement(lines=0, currency=currency, extra=extra)
    again = from_snapshot(canonical_json(doc))
    assert again == doc
    assert canonical_json(again) == canonical_json(doc)
    assert again.total == sum(Decimal(m).scaleb(-digits) for m, _ in values)


def test_floats_are_refused_and_database_scales_are_normalised() -> None:
    raw = statement(lines=1).model_dump()
    with pytest.raises(ValidationError, match="never a float"):
        StatementDocument.model_validate({**raw, "total": 4.25})
    wide = {**raw, "total": Decimal("4.2500"), "lines": [{**raw["lines"][0], "amount": "4.2500"}]}
    doc = StatementDocument.model_validate(wide)
    assert doc.model_dump(mode="json")["total"] == "4.25"
    assert doc == statement(lines=1)
