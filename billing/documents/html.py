"""A statement or credit note as a standalone, print-friendly HTML page.

`templates/statement.html` lays the page out and `templates/statement.css` styles it (inlined,
no external resources, no web fonts), so the same template serves the PDF and the web pages.
Everything shown is formatted here from the document, for the fleet's locale; the template
only places text. Jinja2 autoescapes every value. A vehicle or tariff source shared by every
line is shown once above the table instead of in a column on every line (easier to read,
and a third fewer text boxes to lay out in the PDF).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from billing.documents import formatting
from billing.documents.labels import labels
from billing.domain.documents import DocumentLine, StatementDocument


@dataclass(frozen=True, slots=True)
class LineView:
    date: str
    vehicle: str
    kind: str
    energy: str
    price: str
    tariff: str
    amount: str
    negative: bool


@dataclass(frozen=True, slots=True)
class DocumentView:
    """Every text of a document, formatted; what the template receives as `doc`."""

    lang: str
    title: str
    mark: str | None
    notice: str | None
    number: str | None
    issued: str | None
    period: str
    fleet_name: str
    employee_name: str
    personnel_number: str
    references_number: str | None
    reason: str | None
    reason_label: str
    current: tuple[LineView, ...]
    prior: tuple[LineView, ...]
    pending: tuple[LineView, ...]
    energy_total: str
    total: str
    total_label: str
    negative_total: bool
    is_credit_note: bool
    vehicle: str | None = None
    tariff: str | None = None
    vehicle_column: bool = True
    tariff_column: bool = True

    @property
    def columns(self) -> int:
        return 5 + self.vehicle_column + self.tariff_column


def _common(values: list[str | None]) -> tuple[str | None, bool]:
    """(the one value every line shares, or None; whether lines need their own column)."""
    distinct = set(values)
    if len(distinct) == 1:
        return next(iter(distinct)), False
    return None, True


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the document templates (shared with the web pages)."""
    return Environment(
        loader=PackageLoader("billing.documents", "templates"),
        autoescape=select_autoescape(["html", "css"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _line(line: DocumentLine, doc: StatementDocument, words: Mapping[str, str]) -> LineView:
    tag, currency = doc.fleet.locale, doc.currency
    kind = words[line.kind]
    if line.prior_period:
        kind = f"{kind} {words['of_period']} {formatting.period(line.period, tag)}"
    return LineView(
        date=formatting.day(line.charge_date, tag),
        vehicle=line.vehicle_name or "",
        kind=kind,
        energy=formatting.kwh(line.kwh, tag),
        price=(
            words["unpriced"]
            if line.unit_price is None
            else formatting.unit_price(line.unit_price, currency, tag)
        ),
        tariff=line.tariff_source or "",
        amount=formatting.money(line.amount, currency, tag),
        negative=line.amount < 0,
    )


def view(doc: StatementDocument) -> DocumentView:
    """The document's texts for its fleet's locale."""
    tag = doc.fleet.locale
    words = labels(tag)
    mark = {"draft": words["draft"], "void": words["void"]}.get(doc.status)
    notice = {"draft": words["draft_notice"], "void": words["void_notice"]}.get(doc.status)
    issued = (
        None
        if doc.issued_at is None
        else formatting.long_day(formatting.local_day(doc.issued_at, doc.fleet.timezone), tag)
    )
    credit = doc.kind == "credit_note"
    every = (*doc.lines, *doc.pending_not_included)
    vehicle, vehicle_column = _common([line.vehicle_name for line in every])
    tariff, tariff_column = _common([line.tariff_source for line in every])
    return DocumentView(
        lang=tag,
        title=words[doc.kind],
        mark=mark,
        notice=notice,
        number=doc.number,
        issued=issued,
        period=formatting.period(doc.period, tag),
        fleet_name=doc.fleet.name,
        employee_name=doc.employee.name,
        personnel_number=doc.employee.external_ref,
        references_number=doc.references_number,
        reason=doc.reason,
        reason_label=words["void_reason"] if doc.status == "void" else words["reason"],
        current=tuple(_line(line, doc, words) for line in doc.lines if not line.prior_period),
        prior=tuple(_line(line, doc, words) for line in doc.lines if line.prior_period),
        pending=tuple(_line(line, doc, words) for line in doc.pending_not_included),
        energy_total=formatting.kwh(doc.kwh, tag),
        total=formatting.money(doc.total, doc.currency, tag),
        total_label=words["total_credit"] if credit else words["total"],
        negative_total=doc.negative_total and not credit,
        is_credit_note=credit,
        vehicle=vehicle,
        tariff=tariff,
        vehicle_column=vehicle_column,
        tariff_column=tariff_column,
    )


def render_statement_html(doc: StatementDocument) -> str:
    """The document as one standalone HTML page (CSS inlined), for print or the browser."""
    template = environment().get_template("statement.html")
    return template.render(doc=view(doc), words=labels(doc.fleet.locale))
