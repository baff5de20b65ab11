"""Credit notes against statements that went to payroll."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.keys import PDF_EXECUTOR
from billing.api.queries import CreditNoteQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.api.routes.statements import pdf_response
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.statement_models import CreditNote, CreditNoteCreate, CreditNotePage
from billing.domain.statements import CreditRequest
from billing.services import credit_notes as service
from billing.services import pdfs

routes = Routes()
TAG = "credit notes"


@routes.route(
    "POST",
    "/v1/credit-notes",
    summary="Credit chosen lines of a handed-over statement (manager)",
    tag=TAG,
    body=CreditNoteCreate,
    response=CreditNote,
    status=201,
    errors=(403, 404, 409),
)
async def create_credit_note(request: web.Request, body: CreditNoteCreate) -> CreditNote:
    who = principal(request)
    row = await service.create_credit_note(
        pool(request),
        who,
        statement_id=body.statement_id,
        reason=body.reason,
        lines=[CreditRequest(line.line_item_id, line.amount) for line in body.lines],
        now=datetime.now(UTC),
    )
    return service.view(who, row)


@routes.route(
    "GET",
    "/v1/credit-notes",
    summary="List credit notes, oldest first",
    tag=TAG,
    query=CreditNoteQuery,
    response=CreditNotePage,
)
async def list_credit_notes(request: web.Request, query: CreditNoteQuery) -> CreditNotePage:
    who = principal(request)
    rows = await service.list_credit_notes(
        pool(request),
        who,
        fleet_id=query.fleet_id,
        employee_id=query.employee_id,
        statement_id=query.statement_id,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return CreditNotePage(
        items=[service.view(who, row) for row in rows], next_cursor=next_cursor(rows, query.limit)
    )


@routes.route(
    "GET", "/v1/credit-notes/{id}", summary="One credit note", tag=TAG, response=CreditNote
)
async def get_credit_note(request: web.Request) -> CreditNote:
    who = principal(request)
    return service.view(who, await service.get_credit_note(pool(request), who, path_id(request)))


@routes.route(
    "GET",
    "/v1/credit-notes/{id}/pdf",
    summary="The credit note as PDF (rendered once, then served byte-identical)",
    tag=TAG,
    raw_response="application/pdf",
)
async def get_credit_note_pdf(request: web.Request) -> web.Response:
    note_id = path_id(request)
    content = await pdfs.credit_note_pdf(
        pool(request), principal(request), note_id, executor=request.app[PDF_EXECUTOR]
    )
    return pdf_response(content, f"credit-note-{note_id}")
