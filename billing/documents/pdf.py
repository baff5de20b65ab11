"""A statement or credit note as PDF: the HTML template through WeasyPrint, byte-reproducible.

The same document always gives the same bytes (the close stores a finalized document's PDF
with its SHA-256 and serves it byte-identical): the PDF has no creation or modification date
(WeasyPrint writes them only from HTML metadata, which the template does not set), its file
identifier is derived from the document's snapshot hash instead of being random, and nothing
is fetched (the template is standalone; any URL is refused). Fonts come from the system
(fontconfig), so bytes are reproducible on one installation; the stored bytes are what is
served, so a later font update never changes a stored PDF.

`render_pdf` is synchronous and CPU-bound (tens of milliseconds); from async code use
`render_pdf_async`, which runs it in an executor (a `ProcessPoolExecutor` gives true
parallelism; the default thread pool only keeps the event loop free).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, NoReturn

from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from billing.documents.html import render_statement_html
from billing.domain.documents import StatementDocument, snapshot_sha256

PDF_VARIANT_VERSION = "1.7"


class ExternalResourceRefused(RuntimeError):
    """The template asked for a URL; documents are rendered from their content only."""


class _NoFetching(URLFetcher):  # type: ignore[misc]  # WeasyPrint is untyped: its base is Any
    """Refuses every URL, and makes the refusal stop the rendering."""

    def __init__(self) -> None:
        super().__init__(fail_on_errors=True)

    def fetch(self, url: str, headers: Any = None) -> NoReturn:
        raise ExternalResourceRefused(f"document templates may not load {url!r}")


def render_html_pdf(html: str, identifier: bytes) -> bytes:
    """PDF bytes of a standalone HTML page; `identifier` becomes the PDF's file ID."""
    document = HTML(string=html, base_url=None, url_fetcher=_NoFetching())
    try:
        pdf = document.write_pdf(
            pdf_identifier=identifier,
            pdf_version=PDF_VARIANT_VERSION,
            uncompressed_pdf=False,
        )
    except FatalURLFetchingError as exc:
        if isinstance(exc.__cause__, ExternalResourceRefused):
            raise exc.__cause__ from None
        raise ExternalResourceRefused(str(exc)) from None
    if not isinstance(pdf, bytes):  # write_pdf returns bytes when given no target
        raise TypeError("WeasyPrint returned no bytes")
    return pdf


def render_pdf(doc: StatementDocument) -> bytes:
    """The document's PDF; byte-identical for the same document."""
    identifier = snapshot_sha256(doc)[:32].encode("ascii")
    return render_html_pdf(render_statement_html(doc), identifier)


def pdf_process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for `render_pdf_async`: `workers` processes (default: one per core).

    Workers are started with `spawn`, never `fork`: forking a process that runs an event
    loop, database connections and threads copies their state half-way. Each worker pays the
    imports and font setup once, on its first document (about a second), then renders at
    full speed.
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


async def render_pdf_async(doc: StatementDocument, executor: Executor | None = None) -> bytes:
    """`render_pdf` off the event loop, in `executor` (the loop's default thread pool if None).

    With `pdf_process_pool()` it renders in parallel on every core (documents and bytes
    pickle); threads keep the loop free but share one interpreter lock, so they do not add
    throughput.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, render_pdf, doc)
