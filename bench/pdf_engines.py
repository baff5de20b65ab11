"""WeasyPrint against typst and ReportLab for the same 30-line statement, CPU time per PDF.

All three engines print the same texts (`billing.documents.html.view`, the statement
formatted for de-DE) as a title block and a 7-column table with a total row, embedding
DejaVu Sans. WeasyPrint renders the real template (`render_pdf`); typst and ReportLab
lay the same table out from their own markup, as they would have to in production (neither
reads HTML, so the web pages would need a second template). Times are CPU seconds of this
process (`time.process_time`), so shared cores distort them less than wall time.

typst and ReportLab are not dependencies of the project; install them to run this:

    pip install typst reportlab
    python bench/pdf_engines.py [--count 20]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from pdf_throughput import document  # bench/ is on sys.path when run as a script

from billing.documents.html import DocumentView, LineView, view
from billing.documents.pdf import render_pdf

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
HEADER = ("Datum", "Fahrzeug", "Posten", "Energie", "Preis", "Tarif", "Betrag")


def _cells(line: LineView) -> tuple[str, ...]:
    return (line.date, line.vehicle, line.kind, line.energy, line.price, line.tariff, line.amount)


def typst_renderer() -> Callable[[DocumentView], bytes]:
    import typst

    def esc(text: str) -> str:
        return json.dumps(text)  # a typst string literal

    def render(doc: DocumentView) -> bytes:
        rows = [HEADER, *(_cells(line) for line in (*doc.current, *doc.prior))]
        cells = ", ".join(f"[#{esc(cell)}]" for row in rows for cell in row)
        source = f"""
#set page(paper: "a4", margin: (x: 16mm, y: 18mm))
#set text(font: "DejaVu Sans", size: 9pt, lang: "de")
#text(12pt, weight: "bold")[#{esc(doc.fleet_name)}] #h(1fr) #text(16pt)[#{esc(doc.title)}]
#line(length: 100%)
#grid(columns: 2, gutter: 3mm,
  [Mitarbeiter/in: *#{esc(doc.employee_name)}*], [Nummer: *#{esc(doc.number or "")}*],
  [Zeitraum: *#{esc(doc.period)}*], [Ausgestellt: #{esc(doc.issued or "")}])
#table(columns: (auto, auto, auto, auto, auto, 1fr, auto), stroke: 0.3pt,
  align: (left, left, left, right, right, left, right), {cells},
  [*Summe*], [], [], [*#{esc(doc.energy_total)}*], [], [], [*#{esc(doc.total)}*])
"""
        pdf = typst.compile(source.encode(), font_paths=[str(FONT_DIR)], ignore_system_fonts=True)
        assert isinstance(pdf, bytes)
        return pdf

    return render


def reportlab_renderer() -> Callable[[DocumentView], bytes]:
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    pdfmetrics.registerFont(TTFont("DejaVu", str(FONT_DIR / "DejaVuSans.ttf")))
    small = ParagraphStyle("small", fontName="DejaVu", fontSize=7.5, leading=9)
    body = ParagraphStyle("body", fontName="DejaVu", fontSize=9, leading=12)

    def render(doc: DocumentView) -> bytes:
        out = io.BytesIO()
        rows = [list(HEADER)]
        for line in (*doc.current, *doc.prior):
            cells = list(_cells(line))
            cells[5] = Paragraph(cells[5], small)
            cells[2] = Paragraph(cells[2], small)
            rows.append(cells)
        rows.append(["Summe", "", "", doc.energy_total, "", "", doc.total])
        table = Table(
            rows,
            repeatRows=1,
            colWidths=[20 * mm, 36 * mm, 28 * mm, 20 * mm, 22 * mm, 32 * mm, 20 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), "DejaVu", 8),
                    ("ALIGN", (3, 0), (4, -1), "RIGHT"),
                    ("ALIGN", (6, 0), (6, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.grey),
                ]
            )
        )
        story = [
            Paragraph(f"<b>{doc.fleet_name}</b> — {doc.title} {doc.number}", body),
            Paragraph(f"{doc.employee_name} · {doc.period} · {doc.issued}", body),
            table,
        ]
        SimpleDocTemplate(out, pagesize=A4, invariant=1).build(story)
        return out.getvalue()

    return render


def measure(name: str, render: Callable[[], bytes], count: int) -> None:
    for _ in range(2):
        pdf = render()
    started = time.process_time()
    for _ in range(count):
        pdf = render()
    cpu = (time.process_time() - started) / count
    print(
        f"{name:11s} {cpu * 1000:7.1f} CPU ms per PDF  {1 / cpu:6.1f} PDFs/s per core  "
        f"{len(pdf):7d} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--lines", type=int, default=30)
    args = parser.parse_args()
    doc = document(0, args.lines)
    texts = view(doc)
    measure("weasyprint", lambda: render_pdf(doc), args.count)
    typst_render = typst_renderer()
    measure("typst", lambda: typst_render(texts), args.count)
    reportlab_render = reportlab_renderer()
    measure("reportlab", lambda: reportlab_render(texts), args.count)


if __name__ == "__main__":
    main()
