"""Payroll exports: every finalized document of a fleet, handed over exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.queries import PayrollExportQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.statement_models import ExportCreate, PayrollExport, PayrollExportPage
from billing.services import exports as service

routes = Routes()
TAG = "payroll exports"
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "datev-lodas": "text/plain; charset=windows-1252"}
SUFFIXES = {"csv": "csv", "datev-lodas": "txt"}


@routes.route(
    "POST",
    "/v1/payroll-exports",
    summary="Export every finalized statement and credit note not yet exported (hr, manager)",
    tag=TAG,
    body=ExportCreate,
    response=PayrollExport,
    status=201,
    errors=(403, 404, 409, 422),
)
async def create_payroll_export(request: web.Request, body: ExportCreate) -> PayrollExport:
    return await service.create_export(
        pool(request),
        principal(request),
        fleet_id=body.fleet_id,
        format=body.format,
        now=datetime.now(UTC),
    )


@routes.route(
    "GET",
    "/v1/payroll-exports",
    summary="List payroll exports, oldest first",
    tag=TAG,
    query=PayrollExportQuery,
    response=PayrollExportPage,
)
async def list_payroll_exports(
    request: web.Request, query: PayrollExportQuery
) -> PayrollExportPage:
    items = await service.list_exports(
        pool(request),
        principal(request),
        fleet_id=query.fleet_id,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return PayrollExportPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "GET", "/v1/payroll-exports/{id}", summary="One payroll export", tag=TAG, response=PayrollExport
)
async def get_payroll_export(request: web.Request) -> PayrollExport:
    return await service.get_export(pool(request), principal(request), path_id(request))


@routes.route(
    "GET",
    "/v1/payroll-exports/{id}/file",
    summary="The export's file, byte-identical every time; the ETag is its SHA-256",
    tag=TAG,
    raw_response="application/octet-stream",
)
async def get_payroll_export_file(request: web.Request) -> web.Response:
    export_id = path_id(request)
    stored = await service.get_export_file(pool(request), principal(request), export_id)
    etag = f'"{stored.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    response = web.Response(body=stored.content, headers={"ETag": etag})
    response.headers["Content-Type"] = MEDIA_TYPES[stored.format]
    response.headers["Content-Disposition"] = (
        f'attachment; filename="payroll-{export_id}.{SUFFIXES[stored.format]}"'
    )
    return response
