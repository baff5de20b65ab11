"""Payroll export files: a plain CSV, and DATEV LODAS (in `billing.documents.datev`).

One `ExportRow` per finalized statement or credit note. Amounts keep exactly the currency's
minor units (credit notes negative); kWh keep their 4 stored decimals. Both files are pure
functions of their rows: the same rows give the same bytes.

CSV: UTF-8 without BOM, RFC 4180 (comma, double quotes where needed, CRLF), one header row.
Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab
or CR) are written with a leading `'`; `parse_csv` removes it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from billing.documents.datev import (
    DatevFile,
    DatevMovement,
    DatevSettings,
    MissingDatevSetting,
    parse_datev_lodas,
    render_datev_lodas,
)
from billing.documents.rows import DocumentType, ExportError, ExportRow

CSV_COLUMNS = (
    "number",
    "type",
    "employee_external_ref",
    "employee_name",
    "period",
    "currency",
    "amount",
    "kwh",
    "referenced_number",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def render_csv(rows: Iterable[ExportRow]) -> bytes:
    """The CSV file: a header row, then one row per document, in the given order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                _cell(row.number),
                row.type,
                _cell(row.employee_external_ref),
                _cell(row.employee_name),
                row.period,
                row.currency,
                row.amount_text(),
                row.kwh_text(),
                _cell(row.referenced_number or ""),
            )
        )
    return out.getvalue().encode("utf-8")


def parse_csv(data: bytes) -> list[ExportRow]:
    """The rows back from `render_csv`'s bytes (strict: header and every field checked)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"not UTF-8: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if header is None or tuple(header) != CSV_COLUMNS:
        raise ExportError(f"header must be {','.join(CSV_COLUMNS)}")
    rows = []
    for cells in reader:
        if len(cells) != len(CSV_COLUMNS):
            raise ExportError(
                f"line {reader.line_num}: {len(cells)} fields, not {len(CSV_COLUMNS)}"
            )
        fields = {key: _uncell(value) for key, value in zip(CSV_COLUMNS, cells, strict=True)}
        try:
            rows.append(
                ExportRow.model_validate(
                    {
                        **fields,
                        "amount": Decimal(fields["amount"]),
                        "kwh": Decimal(fields["kwh"]),
                        "referenced_number": fields["referenced_number"] or None,
                    }
                )
            )
        except (InvalidOperation, ValidationError) as exc:
            raise ExportError(f"line {reader.line_num}: {exc}") from None
    return rows


__all__ = [
    "CSV_COLUMNS",
    "DatevFile",
    "DatevMovement",
    "DatevSettings",
    "DocumentType",
    "ExportError",
    "ExportRow",
    "MissingDatevSetting",
    "parse_csv",
    "parse_datev_lodas",
    "render_csv",
    "render_datev_lodas",
]
