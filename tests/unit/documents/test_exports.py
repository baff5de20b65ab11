"""Payroll files: CSV and DATEV LODAS parse back to the same documents and amounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from billing.documents.exports import (
    CSV_COLUMNS,
    DatevSettings,
    ExportError,
    ExportRow,
    MissingDatevSetting,
    parse_csv,
    parse_datev_lodas,
    render_csv,
    render_datev_lodas,
)
from tests.document_factories import credit_note, statement

DATEV = DatevSettings(consultant_number="1234567", client_number="12345", wage_type="9100")


def _rows() -> list[ExportRow]:
    return [
        ExportRow.from_document(statement(lines=0, extra=())),
        ExportRow.from_document(statement(lines=3, number="S-2026-00018")),
        ExportRow.from_document(credit_note()),
        ExportRow(
            number="S-2026-00019",
            type="statement",
            employee_external_ref="10043",
            employee_name="Jörg Müller-Lüdenscheidt",
            period="2026-10",
            currency="EUR",
            amount=Decimal("-12.30"),
            kwh=Decimal("-3.0000"),
        ),
    ]


def test_rows_from_documents() -> None:
    row = ExportRow.from_document(credit_note())
    assert row.type == "credit_note"
    assert row.amount == Decimal("-5.35")
    assert row.referenced_number == "S-2026-00017"
    assert row.employee_external_ref == "10042"
    with pytest.raises(ExportError, match="only finalized documents"):
        ExportRow.from_document(statement(status="draft"))
    with pytest.raises(ExportError, match="only finalized documents"):
        ExportRow.from_document(statement(status="void"))


def test_row_rules() -> None:
    row = _rows()[1]
    with pytest.raises(ValidationError, match="more decimals than EUR allows"):
        ExportRow.model_validate({**row.model_dump(), "amount": Decimal("1.001")})
    with pytest.raises(ValidationError, match="negative"):
        ExportRow.model_validate({**_rows()[2].model_dump(), "amount": Decimal("5.35")})
    with pytest.raises(ValidationError, match="only a credit note"):
        ExportRow.model_validate({**row.model_dump(), "referenced_number": "S-2026-00001"})


def test_csv_has_a_header_one_row_per_document_and_crlf() -> None:
    data = render_csv(_rows())
    lines = data.split(b"\r\n")
    assert lines[0].decode() == ",".join(CSV_COLUMNS)
    assert lines[-1] == b""
    assert len(lines) == 1 + 4 + 1
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert lines[2] == b"S-2026-00018,statement,10042,Anna Schmidt,2026-11,EUR,12.75,37.5000,"
    assert lines[3] == (
        b"C-2026-00003,credit_note,10042,Anna Schmidt,2026-11,EUR,-5.35,25.0000,S-2026-00017"
    )
    assert "Jörg Müller-Lüdenscheidt".encode() in data
    assert b"0.00,0.0000" in lines[1]


def test_csv_round_trip_and_sum() -> None:
    rows = _rows()
    again = parse_csv(render_csv(rows))
    assert again == rows
    assert sum(row.amount for row in again) == Decimal("12.75") - Decimal("5.35") - Decimal("12.30")


def test_csv_neutralises_spreadsheet_formulas() -> None:
    row = ExportRow.model_validate(
        {**_rows()[1].model_dump(), "employee_name": "=HYPERLINK(1)", "employee_external_ref": "+1"}
    )
    data = render_csv([row])
    assert b",'+1,'=HYPERLINK(1)," in data
    assert parse_csv(data) == [row]


def test_csv_reader_refuses_broken_files() -> None:
    with pytest.raises(ExportError, match="header"):
        parse_csv(b"a,b\r\n")
    good = render_csv(_rows()[1:2])
    with pytest.raises(ExportError, match="line 2"):
        parse_csv(good.replace(b"12.75", b"12.7x"))
    with pytest.raises(ExportError, match="fields"):
        parse_csv(good.replace(b",EUR,", b",EUR,,"))


def test_datev_file_layout() -> None:
    data = render_datev_lodas(_rows(), DATEV)
    text = data.decode("cp1252")
    assert text.split("\r\n") == [
        "[Allgemein]",
        "Ziel=LODAS",
        "Version_SST=1.0",
        "BeraterNr=1234567",
        "MandantenNr=12345",
        "Datumsformat=TT.MM.JJJJ",
        "Feldtrennzeichen=;",
        "Zahlenkomma=,",
        "",
        "[Satzbeschreibung]",
        "10;u_lod_bwd_buchung_standard;abrechnung_zeitraum#bwd;pnr#bwd;la_eigene#bwd;"
        "bs_nr#bwd;bs_wert_butab#bwd;kostenstelle#bwd;",
        "",
        "[Bewegungsdaten]",
        "10;01.11.2026;10042;9100;4;0,00;;",
        "10;01.11.2026;10042;9100;4;12,75;;",
        "10;01.11.2026;10042;9100;4;-5,35;;",
        "10;01.10.2026;10043;9100;4;-12,30;;",
        "",
    ]
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_datev_round_trip_amounts() -> None:
    rows = _rows()
    parsed = parse_datev_lodas(render_datev_lodas(rows, DATEV, payroll_period="2026-12"))
    assert parsed.general["BeraterNr"] == "1234567"
    assert parsed.general["MandantenNr"] == "12345"
    assert parsed.general["Ziel"] == "LODAS"
    assert [m.amount for m in parsed.movements] == [row.amount for row in rows]
    assert [m.personnel_number for m in parsed.movements] == [
        row.employee_external_ref for row in rows
    ]
    assert {m.period for m in parsed.movements} == {date(2026, 12, 1)}
    assert {m.wage_type for m in parsed.movements} == {"9100"}


def test_datev_missing_settings_are_named() -> None:
    with pytest.raises(MissingDatevSetting, match=r"datev\.wage_type") as caught:
        DatevSettings.from_fleet({"consultant_number": "1234567", "client_number": "12345"})
    assert caught.value.missing == ("wage_type",)
    with pytest.raises(MissingDatevSetting) as everything:
        render_datev_lodas(_rows(), None)
    assert everything.value.missing == ("consultant_number", "client_number", "wage_type")
    with pytest.raises(MissingDatevSetting, match="client_number"):
        DatevSettings.from_fleet({"consultant_number": "1", "client_number": "", "wage_type": "1"})
    assert DatevSettings.from_fleet(DATEV.model_dump()) == DATEV


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consultant_number", "12345678"),
        ("client_number", "123456"),
        ("wage_type", "12345"),
        ("wage_type", "91a0"),
        ("consultant_number", "-123"),
    ],
)
def test_datev_numbers_have_datevs_lengths(field: str, value: str) -> None:
    with pytest.raises(ExportError, match="invalid DATEV settings"):
        DatevSettings.from_fleet({**DATEV.model_dump(), field: value})


def test_datev_refuses_what_it_cannot_book() -> None:
    row = _rows()[1]
    with pytest.raises(ExportError, match="not a DATEV personnel number"):
        render_datev_lodas([row.model_copy(update={"employee_external_ref": "E-10042"})], DATEV)
    with pytest.raises(ExportError, match="books euros, not JPY"):
        render_datev_lodas(
            [row.model_copy(update={"currency": "JPY", "amount": Decimal(13)})], DATEV
        )


def test_datev_reader_is_strict_about_line_ends_and_sections() -> None:
    data = render_datev_lodas(_rows(), DATEV)
    with pytest.raises(ExportError, match="CRLF"):
        parse_datev_lodas(data.replace(b"\r\n", b"\n"))
    with pytest.raises(ExportError, match="sections"):
        parse_datev_lodas(data.replace(b"[Satzbeschreibung]", b"[Other]"))


def test_datev_is_cp1252() -> None:
    parsed = parse_datev_lodas(render_datev_lodas(_rows(), DATEV))
    assert parsed.record_description.startswith("10;u_lod_bwd_buchung_standard;")
    assert "€".encode("cp1252") == b"\x80"


_amounts = st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_amounts, st.integers(min_value=1, max_value=99999)), max_size=20))
def test_csv_and_datev_round_trip_property(values: list[tuple[Decimal, int]]) -> None:
    rows = [
        ExportRow(
            number=f"S-2026-{n + 1:05d}",
            type="statement",
            employee_external_ref=str(pnr),
            employee_name=f"Employee {pnr}",
            period="2026-11",
            currency="EUR",
            amount=amount,
            kwh=Decimal("1.2500"),
        )
        for n, (amount, pnr) in enumerate(values)
    ]
    assert parse_csv(render_csv(rows)) == rows
    movements = parse_datev_lodas(render_datev_lodas(rows, DATEV)).movements
    assert [m.amount for m in movements] == [row.amount for row in rows]
    assert sum(m.amount for m in movements) == sum(row.amount for row in rows)


def test_datev_payroll_period_must_be_a_period() -> None:
    with pytest.raises(ExportError, match="not a period"):
        render_datev_lodas(_rows(), DATEV, payroll_period="2026-13")
