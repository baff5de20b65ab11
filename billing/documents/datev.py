"""DATEV LODAS ASCII import of movement data (Bewegungsdaten): one booking per document.

The file, as LODAS reads it (Windows-1252, CRLF line ends):

    [Allgemein]
    Ziel=LODAS
    Version_SST=1.0
    BeraterNr=<consultant number>
    MandantenNr=<client number>
    Datumsformat=TT.MM.JJJJ
    Feldtrennzeichen=;
    Zahlenkomma=,

    [Satzbeschreibung]
    10;u_lod_bwd_buchung_standard;abrechnung_zeitraum#bwd;pnr#bwd;la_eigene#bwd;bs_nr#bwd;bs_wert_butab#bwd;kostenstelle#bwd;

    [Bewegungsdaten]
    10;01.11.2026;10042;9100;4;41,37;;

Each movement: the payroll month as its first day, the Personalnummer (the employee's
`external_ref`), the Lohnart (wage type), the Bearbeitungsschlüssel (processing key; 4 books
the value as an amount), the amount with a decimal comma and no thousands separator
(credit notes negative), and an empty cost centre. The consultant number, client number and
wage type come from the employer's tax adviser: fleet settings, never guessed; a missing one
stops the export with `MissingDatevSetting` naming it.

Only what LODAS reads is written: numbers and dates, no names. Text that Windows-1252 cannot
encode is refused with `ExportError` rather than transliterated (a silently changed
personnel number would book money on someone else); personnel numbers must be 1 to 5 digits,
so in practice every file is plain ASCII. DATEV payroll runs in euros: other currencies are
refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from billing.documents.rows import ExportError, ExportRow

ENCODING = "cp1252"
CRLF = "\r\n"
RECORD_TYPE = "10"
RECORD_DESCRIPTION = (
    f"{RECORD_TYPE};u_lod_bwd_buchung_standard;abrechnung_zeitraum#bwd;pnr#bwd;la_eigene#bwd;"
    "bs_nr#bwd;bs_wert_butab#bwd;kostenstelle#bwd;"
)
PROCESSING_KEY_AMOUNT = "4"
_PERSONNEL_NUMBER = re.compile(r"^[0-9]{1,5}$")
_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")

ConsultantNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}$")]
ClientNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}$")]
WageType = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,4}$")]
ProcessingKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,2}$")]

SETTING_NAMES = ("consultant_number", "client_number", "wage_type")


class MissingDatevSetting(ExportError):
    """The fleet lacks a DATEV setting the export needs; `missing` names each one."""

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "the fleet's DATEV settings lack "
            + ", ".join(f"datev.{name}" for name in self.missing)
            + " (the numbers the employer's tax adviser gives; set them on the fleet)"
        )


class DatevSettings(BaseModel):
    """BeraterNr (up to 7 digits), MandantenNr (up to 5), Lohnart (up to 4)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    consultant_number: ConsultantNumber
    client_number: ClientNumber
    wage_type: WageType
    processing_key: ProcessingKey = PROCESSING_KEY_AMOUNT

    @classmethod
    def from_fleet(cls, settings: Mapping[str, Any] | None) -> DatevSettings:
        """The settings from a fleet's `datev` object; `MissingDatevSetting` if any is absent."""
        given = dict(settings or {})
        missing = [name for name in SETTING_NAMES if given.get(name) in (None, "")]
        if missing:
            raise MissingDatevSetting(missing)
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise ExportError(f"invalid DATEV settings: {exc}") from None


@dataclass(frozen=True, slots=True)
class DatevMovement:
    """One `[Bewegungsdaten]` booking as read back from a file."""

    period: date
    personnel_number: str
    wage_type: str
    processing_key: str
    amount: Decimal
    cost_centre: str


@dataclass(frozen=True, slots=True)
class DatevFile:
    general: dict[str, str]
    record_description: str
    movements: tuple[DatevMovement, ...]


def _first_day(period: str) -> str:
    match = _PERIOD.match(period)
    if match is None:
        raise ExportError(f"{period!r} is not a period YYYY-MM")
    return f"01.{match.group(2)}.{match.group(1)}"


def _amount(row: ExportRow) -> str:
    if row.currency != "EUR":
        raise ExportError(f"{row.number}: DATEV LODAS books euros, not {row.currency}")
    return row.amount_text().replace(".", ",")


def render_datev_lodas(
    rows: Iterable[ExportRow],
    settings: DatevSettings | None,
    *,
    payroll_period: str | None = None,
) -> bytes:
    """The LODAS file for `rows`, in their order.

    Each document is booked in `payroll_period` (`YYYY-MM`, the payroll month the export is
    for) when given, else in its own period.
    """
    if settings is None:
        raise MissingDatevSetting(SETTING_NAMES)
    lines = [
        "[Allgemein]",
        "Ziel=LODAS",
        "Version_SST=1.0",
        f"BeraterNr={settings.consultant_number}",
        f"MandantenNr={settings.client_number}",
        "Datumsformat=TT.MM.JJJJ",
        "Feldtrennzeichen=;",
        "Zahlenkomma=,",
        "",
        "[Satzbeschreibung]",
        RECORD_DESCRIPTION,
        "",
        "[Bewegungsdaten]",
    ]
    for row in rows:
        if not _PERSONNEL_NUMBER.match(row.employee_external_ref):
            raise ExportError(
                f"{row.number}: employee {row.employee_name!r} has external_ref "
                f"{row.employee_external_ref!r}, not a DATEV personnel number (1 to 5 digits)"
            )
        when = _first_day(payroll_period or row.period)
        fields = (
            RECORD_TYPE,
            when,
            row.employee_external_ref,
            settings.wage_type,
            settings.processing_key,
            _amount(row),
            "",
        )
        lines.append(";".join(fields) + ";")
    text = CRLF.join(lines) + CRLF
    try:
        return text.encode(ENCODING)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise ExportError(f"{bad!r} cannot be written in Windows-1252 (DATEV's encoding)") from None


def _movement(line: str, number: int) -> DatevMovement:
    fields = line.split(";")
    if len(fields) != 8 or fields[0] != RECORD_TYPE or fields[7] != "":
        raise ExportError(f"line {number}: not a movement of record type {RECORD_TYPE}: {line!r}")
    _, when, pnr, wage_type, key, value, cost_centre, _ = fields
    try:
        day, month, year = (int(part) for part in when.split("."))
        period = date(year, month, day)
        if "." in value:
            raise InvalidOperation
        amount = Decimal(value.replace(",", "."))
    except (ValueError, InvalidOperation):
        raise ExportError(f"line {number}: bad date or amount in {line!r}") from None
    return DatevMovement(period, pnr, wage_type, key, amount, cost_centre)


def parse_datev_lodas(data: bytes) -> DatevFile:
    """A LODAS file back (strict: CRLF only, the three sections in order, cp1252)."""
    text = data.decode(ENCODING)
    if not text.endswith(CRLF) or "\n" in text.replace(CRLF, "") or "\r" in text.replace(CRLF, ""):
        raise ExportError("every line must end with CRLF")
    sections: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(text[: -len(CRLF)].split(CRLF), start=1):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is None:
            raise ExportError(f"line {number}: outside any section")
        elif line:
            current.append((number, line))
    if list(sections) != ["Allgemein", "Satzbeschreibung", "Bewegungsdaten"]:
        raise ExportError(
            f"sections must be Allgemein, Satzbeschreibung, Bewegungsdaten: {list(sections)}"
        )
    general = dict(line.split("=", 1) for _, line in sections["Allgemein"])
    descriptions = [line for _, line in sections["Satzbeschreibung"]]
    if len(descriptions) != 1:
        raise ExportError("expected one record description")
    movements = tuple(_movement(line, number) for number, line in sections["Bewegungsdaten"])
    return DatevFile(general, descriptions[0], movements)
