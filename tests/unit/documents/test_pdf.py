"""Statement PDFs: the text a reader extracts, byte-identical output, drafts marked."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import pytest
from pypdf import PdfReader

from billing.documents.pdf import (
    ExternalResourceRefused,
    pdf_process_pool,
    render_html_pdf,
    render_pdf,
    render_pdf_async,
)
from billing.domain.documents import StatementDocument
from tests.document_factories import credit_note, statement


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages).replace(
        "\N{NO-BREAK SPACE}", " "
    )


@pytest.fixture(scope="module")
def finalized() -> StatementDocument:
    return statement(lines=30)


@pytest.fixture(scope="module")
def finalized_pdf(finalized: StatementDocument) -> bytes:
    return render_pdf(finalized)


def test_pdf_text_has_number_employee_period_and_total(finalized_pdf: bytes) -> None:
    assert finalized_pdf.startswith(b"%PDF-1.7")
    text = _text(finalized_pdf)
    assert "S-2026-00017" in text
    assert "Anna Schmidt" in text
    assert "November 2026" in text
    assert "127,50 €" in text  # 30 lines of 4.25
    assert "ENTWURF" not in text


def test_pdf_bytes_are_identical_for_the_same_document(
    finalized: StatementDocument, finalized_pdf: bytes
) -> None:
    assert render_pdf(finalized) == finalized_pdf
    assert b"/CreationDate" not in finalized_pdf
    assert b"/ModDate" not in finalized_pdf


def test_pdf_bytes_are_identical_in_another_process(finalized_pdf: bytes) -> None:
    script = (
        "import sys\n"
        "from billing.documents.pdf import render_pdf\n"
        "from tests.document_factories import statement\n"
        "sys.stdout.buffer.write(render_pdf(statement(lines=30)))\n"
    )
    other = subprocess.run(  # noqa: S603  # fixed argv: this interpreter and a literal script
        [sys.executable, "-c", script],
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert other.stdout == finalized_pdf


def test_a_different_document_gives_different_bytes(finalized_pdf: bytes) -> None:
    assert render_pdf(statement(lines=30, number="S-2026-00018")) != finalized_pdf


def test_draft_pdf_carries_the_draft_mark() -> None:
    text = _text(render_pdf(statement(lines=3, status="draft", locale="en-US")))
    assert "DRAFT" in text
    assert "Anna Schmidt" in text
    assert "€12.75" in text


def test_credit_note_pdf_shows_negative_total_and_reference() -> None:
    text = _text(render_pdf(credit_note()))
    assert "C-2026-00003" in text
    assert "S-2026-00017" in text
    assert "-5,35 €" in text


def test_templates_may_not_fetch_anything() -> None:
    html = '<html><body><img src="http://127.0.0.1:9/x.png"></body></html>'
    with pytest.raises(ExternalResourceRefused):
        render_html_pdf(html, b"0" * 32)


async def test_async_rendering_in_a_process_pool(
    finalized: StatementDocument, finalized_pdf: bytes
) -> None:
    assert await render_pdf_async(finalized) == finalized_pdf
    with pdf_process_pool(workers=1) as pool:
        results = await asyncio.gather(
            render_pdf_async(finalized, pool), render_pdf_async(credit_note(), pool)
        )
    assert results[0] == finalized_pdf
    assert "C-2026-00003" in _text(results[1])
