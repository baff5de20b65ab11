"""The words on a document, per language of the fleet's locale (English when not listed)."""

from __future__ import annotations

from types import MappingProxyType

_EN = {
    "statement": "Statement",
    "credit_note": "Credit note",
    "draft": "DRAFT",
    "void": "VOID",
    "draft_notice": "Draft: not final, may still change. Not a statement.",
    "void_notice": "Void: this statement was cancelled and is not payable.",
    "subtitle": "Reimbursement of home charging",
    "number": "Number",
    "issued": "Issued",
    "credit_issued": "Issued",
    "period": "Period",
    "employee": "Employee",
    "personnel_number": "Personnel no.",
    "credits_statement": "Credits statement",
    "reason": "Reason",
    "void_reason": "Void reason",
    "date": "Date",
    "vehicle": "Vehicle",
    "kind": "Line",
    "charge": "Home charging",
    "adjustment": "Adjustment",
    "energy": "Energy",
    "price": "Price",
    "tariff": "Tariff",
    "amount": "Amount",
    "this_period": "Charging in",
    "prior_periods": "Corrections of earlier periods",
    "of_period": "of",
    "no_lines": "No approved lines.",
    "total": "Total",
    "total_credit": "Total credited",
    "negative_total": "Corrections of earlier periods exceed this period: the total is negative.",
    "pending": "Pending, not included",
    "pending_notice": "These lines await a decision and will not be paid with this statement.",
    "unpriced": "no tariff",
    "footer": "Reimbursement of costs the employee carried (not a VAT invoice).",
    "page": "Page",
}

_DE = {
    "statement": "Abrechnung",
    "credit_note": "Gutschrift",
    "draft": "ENTWURF",
    "void": "STORNIERT",
    "draft_notice": "Entwurf: nicht endgültig, kann sich noch ändern. Keine Abrechnung.",
    "void_notice": "Storniert: diese Abrechnung wurde aufgehoben und wird nicht ausgezahlt.",
    "subtitle": "Erstattung von Ladestrom zu Hause",
    "number": "Nummer",
    "issued": "Ausgestellt",
    "credit_issued": "Ausgestellt",
    "period": "Zeitraum",
    "employee": "Mitarbeiter/in",
    "personnel_number": "Personalnr.",
    "credits_statement": "Zu Abrechnung",
    "reason": "Grund",
    "void_reason": "Stornogrund",
    "date": "Datum",
    "vehicle": "Fahrzeug",
    "kind": "Posten",
    "charge": "Laden zu Hause",
    "adjustment": "Korrektur",
    "energy": "Energie",
    "price": "Preis",
    "tariff": "Tarif",
    "amount": "Betrag",
    "this_period": "Laden im",
    "prior_periods": "Korrekturen früherer Zeiträume",
    "of_period": "für",
    "no_lines": "Keine genehmigten Posten.",
    "total": "Summe",
    "total_credit": "Summe der Gutschrift",
    "negative_total": (
        "Die Korrekturen früherer Zeiträume übersteigen diesen Zeitraum: die Summe ist negativ."
    ),
    "pending": "Offen, nicht enthalten",
    "pending_notice": "Diese Posten warten auf eine Entscheidung und sind nicht enthalten.",
    "unpriced": "kein Tarif",
    "footer": "Auslagenersatz für vom Mitarbeiter getragene Kosten (keine Rechnung nach UStG).",
    "page": "Seite",
}

_BY_LANGUAGE = {"en": _EN, "de": _DE}


def labels(locale_tag: str) -> MappingProxyType[str, str]:
    """The labels for `de-DE`, `de-AT` … (German) or English for any other language."""
    return MappingProxyType(_BY_LANGUAGE.get(locale_tag.split("-")[0], _EN))
