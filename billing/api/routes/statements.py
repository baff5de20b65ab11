"""Statements: drafts of a month, finalization, voids, and their PDFs."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.keys import PDF_EXECUTOR
from billing.api.queries import StatementQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.statement_models import (
    DraftCounts,
    DraftsBody,
    FinalizeBody,
    FinalizedStatements,
    FinalizePeriodBody,
    Statement,
    StatementDetail,
    StatementPage,
    VoidBody,
)
from billing.services import pdfs
from billing.services import statements as service

routes = Routes()
TAG = "statements"


def pdf_response(content: bytes, name: str) -> web.Response:
    return web.Response(
        body=content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@routes.route(
    "GET",
    "/v1/statements",
    summary="List statements, oldest first (employees: their own finalized ones)",
    tag=TAG,
    query=StatementQuery,
    response=StatementPage,
)
async def list_statements(request: web.Request, query: StatementQuery) -> StatementPage:
    items = await service.list_statements(
        pool(request),
        principal(request),
        fleet_id=query.fleet_id,
        employee_id=query.employee_id,
        period=query.period,
        status=query.status,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return StatementPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "POST",
    "/v1/statements/drafts",
    summary="Create or refresh the drafts of a month (manager)",
    tag=TAG,
    body=DraftsBody,
    response=DraftCounts,
    errors=(403, 404),
)
async def refresh_drafts(request: web.Request, body: DraftsBody) -> DraftCounts:
    return await service.refresh_drafts(
        pool(request),
        principal(request),
        fleet_id=body.fleet_id,
        period=body.period,
        employee_id=body.employee_id,
    )


@routes.route(
    "POST",
    "/v1/statements/finalize",
    summary="Finalize every draft of a month: all or nothing (manager)",
    tag=TAG,
    body=FinalizePeriodBody,
    response=FinalizedStatements,
    errors=(403, 404, 409),
)
async def finalize_period(request: web.Request, body: FinalizePeriodBody) -> FinalizedStatements:
    who = principal(request)
    rows = await service.finalize_period(
        pool(request), who, fleet_id=body.fleet_id, period=body.period, now=datetime.now(UTC)
    )
    return FinalizedStatements(items=[service.view(who, row) for row in rows])


@routes.route(
    "GET",
    "/v1/statements/{id}",
    summary="One statement with its lines (drafts: and the pending lines left out)",
    tag=TAG,
    response=StatementDetail,
)
async def get_statement(request: web.Request) -> StatementDetail:
    if request.match_info["id"] in ("drafts", "finalize"):
        raise web.HTTPMethodNotAllowed("GET", ["POST"])
    return await service.get_statement(pool(request), principal(request), path_id(request))


@routes.route(
    "POST",
    "/v1/statements/{id}/finalize",
    summary="Finalize a draft: number it, freeze its snapshot, link its lines (manager)",
    tag=TAG,
    body=FinalizeBody,
    response=Statement,
    errors=(403, 404, 409),
)
async def finalize_statement(request: web.Request, body: FinalizeBody) -> Statement:
    who = principal(request)
    row = await service.finalize_statement(
        pool(request), who, path_id(request), now=datetime.now(UTC)
    )
    return service.view(who, row)


@routes.route(
    "POST",
    "/v1/statements/{id}/void",
    summary="Void a finalized statement not yet handed over; its number stays used (manager)",
    tag=TAG,
    body=VoidBody,
    response=Statement,
    errors=(403, 404, 409),
)
async def void_statement(request: web.Request, body: VoidBody) -> Statement:
    who = principal(request)
    row = await service.void_statement(pool(request), who, path_id(request), reason=body.reason)
    return service.view(who, row)


@routes.route(
    "GET",
    "/v1/statements/{id}/pdf",
    summary="The statement as PDF (drafts carry a DRAFT mark; finalized ones never change)",
    tag=TAG,
    raw_response="application/pdf",
)
async def get_statement_pdf(request: web.Request) -> web.Response:
    statement_id = path_id(request)
    content = await pdfs.statement_pdf(
        pool(request), principal(request), statement_id, executor=request.app[PDF_EXECUTOR]
    )
    return pdf_response(content, f"statement-{statement_id}")
