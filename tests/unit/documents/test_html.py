"""The HTML statement: locale formatting, exact amounts, marks, escaping, standalone page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.documents import formatting
from billing.documents.html import render_statement_html
from tests.document_factories import credit_note, employee, line, statement

NBSP = "\N{NO-BREAK SPACE}"


def _total_41_37(locale: str) -> str:
    doc = statement(lines=0, locale=locale, extra=(line(1, amount="4.25"), line(2, amount="37.12")))
    return render_statement_html(doc)


def test_german_fleet_writes_money_and_dates_the_german_way() -> None:
    html = _total_41_37("de-DE")
    assert f"41,37{NBSP}€" in html
    assert "02.11.2026" in html
    assert "November 2026" in html
    assert "4. Dezember 2026" in html
    assert "Abrechnung" in html
    assert "0,34 €/kWh".replace(" ", NBSP) in html


def test_american_fleet_writes_money_and_dates_the_american_way() -> None:
    html = _total_41_37("en-US")
    assert "€41.37" in html
    assert "Nov 2, 2026" in html
    assert "December 4, 2026" in html
    assert "Statement" in html


def test_amounts_keep_every_minor_unit() -> None:
    assert formatting.money(Decimal("1.500"), "KWD", "de-DE") == f"1,500{NBSP}KWD"
    # CLDR gives IQD no decimals, so babel's own currency digits would print "IQD2"
    assert formatting.money(Decimal("1.500"), "IQD", "en-US") == "IQD1.500"
    assert formatting.money(Decimal("413"), "JPY", "de-DE") == f"413{NBSP}¥"
    assert formatting.money(Decimal("-1234567.89"), "EUR", "de-DE") == f"-1.234.567,89{NBSP}€"
    assert formatting.unit_price(Decimal("0.343612"), "EUR", "en-US") == "€0.343612/kWh"
    assert formatting.kwh(Decimal("12.3450"), "de-DE") == f"12,345{NBSP}kWh"
    with pytest.raises(ValueError, match="refusing to round"):
        formatting.money(Decimal("4.255"), "EUR", "de-DE")


def test_period_and_day_follow_the_locale() -> None:
    assert formatting.period("2026-03", "de-DE") == "März 2026"
    assert formatting.period("2026-03", "fr-FR") == "mars 2026"
    assert formatting.day(date(2026, 3, 9), "en-GB") == "9 Mar 2026"


def test_a_draft_carries_a_visible_mark_and_a_finalized_statement_none() -> None:
    draft_de = render_statement_html(statement(status="draft", lines=2))
    draft_en = render_statement_html(statement(status="draft", lines=2, locale="en-US"))
    final = render_statement_html(statement(lines=2, locale="en-US"))
    assert '<div class="mark" aria-hidden="true">ENTWURF</div>' in draft_de
    assert '<div class="mark" aria-hidden="true">DRAFT</div>' in draft_en
    assert "Not a statement" in draft_en
    assert 'class="mark"' not in final
    assert "DRAFT" not in final


def test_a_void_statement_says_so_with_its_reason() -> None:
    html = render_statement_html(statement(status="void", lines=1, locale="en-US"))
    assert '<div class="mark" aria-hidden="true">VOID</div>' in html
    assert "wrong tariff for November" in html
    assert "S-2026-00017" in html


def test_credit_note_shows_negative_total_and_the_credited_statement() -> None:
    html = render_statement_html(credit_note())
    assert "Gutschrift" in html
    assert "C-2026-00003" in html
    assert '<dd class="references">S-2026-00017</dd>' in html
    assert f"-5,35{NBSP}€" in html
    assert "charging on 3 November was at a public station" in html


def test_prior_period_lines_and_negative_total_are_shown() -> None:
    claw_back = line(7, period="2026-10", amount="-30.00", kind="adjustment")
    html = render_statement_html(statement(lines=2, extra=(claw_back,), locale="en-US"))
    assert "Corrections of earlier periods" in html
    assert "Adjustment of October 2026" in html
    assert "-€21.50" in html
    assert "the total is negative" in html


def test_draft_lists_pending_lines_not_included() -> None:
    pending = (line(20, amount="9.99"),)
    html = render_statement_html(
        statement(status="draft", lines=1, locale="en-US", pending_not_included=pending)
    )
    assert "Pending, not included" in html
    assert "€9.99" in html
    assert "€4.25" in html


def test_values_are_escaped() -> None:
    html = render_statement_html(
        statement(lines=1, employee=employee(name="<script>alert(1)</script> & Co"))
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


def test_the_page_is_standalone() -> None:
    html = render_statement_html(statement(lines=3))
    assert html.startswith("<!DOCTYPE html>")
    assert "<style>" in html
    assert "@page" in html
    for external in ("<link", "src=", "url(", "http://", "https://", "@import", "@font-face"):
        assert external not in html


def test_a_shared_vehicle_and_tariff_are_shown_once_and_varying_ones_per_line() -> None:
    shared = render_statement_html(statement(lines=3))
    assert shared.count("Tesla Model 3 (B-NL 4711)") == 1
    assert shared.count("Strompreispauschale 2026") == 1
    assert '<th class="vehicle">' not in shared
    other = line(9).model_copy(update={"vehicle_name": "Renault Zoe", "tariff_source": "own"})
    varying = render_statement_html(statement(lines=3, extra=(other,)))
    assert '<th class="vehicle">' in varying
    assert '<th class="tariff">' in varying
    assert varying.count("Tesla Model 3 (B-NL 4711)") == 3
    assert '<td class="tariff">own</td>' in varying
