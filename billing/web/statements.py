"""Statements per month and payroll exports: the month-end close in the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from aiohttp import web

from billing.api.keys import PDF_EXECUTOR, POOL
from billing.db import master, views
from billing.db.pages import After
from billing.db.pool import connection
from billing.domain.access import Principal
from billing.domain.errors import InvalidData
from billing.domain.statement_models import ExportFormat
from billing.domain.statements import StatementStatus
from billing.services import exports, pdfs
from billing.services import statements as service
from billing.web.render import render
from billing.web.session import path_id, staff, who

routes = web.RouteTableDef()
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
STATUSES: tuple[StatementStatus, ...] = ("draft", "finalized", "void")
LIMIT = 500


def _period(value: object) -> str:
    if not isinstance(value, str) or not PERIOD.match(value):
        raise InvalidData("give the month as YYYY-MM")
    return value


def _fleet_of(me: Principal, posted: object) -> UUID:
    """The fleet a form acts on: the key's own, or the one an admin chose."""
    if me.fleet_id is not None:
        return me.fleet_id
    try:
        return UUID(str(posted))
    except ValueError:
        raise InvalidData("choose a fleet") from None


async def _fleets(request: web.Request, me: Principal) -> list[tuple[UUID, str]]:
    if me.role != "admin":
        return []
    async with connection(request.app[POOL]) as conn:
        fleets = await master.list_fleets(conn, only=None, after=After(), limit=LIST_FLEETS)
    return [(f.id, f.name) for f in fleets]


LIST_FLEETS = 200


@routes.get("/app/statements")
async def statements_page(request: web.Request) -> web.Response:
    me = who(request)
    period = request.query.get("period") or None
    if period is not None:
        _period(period)
    status_text = request.query.get("status") or None
    status = next((s for s in STATUSES if s == status_text), None)
    if status_text is not None and status is None:
        raise InvalidData("status is one of draft, finalized, void")
    items = await service.list_statements(
        request.app[POOL],
        me,
        fleet_id=None,
        employee_id=None,
        period=period,
        status=status,
        after=After(),
        limit=LIMIT,
    )
    async with connection(request.app[POOL]) as conn:
        names = dict(
            await views.employee_names(
                conn, fleet_id=me.scope_fleet(None), employee_id=me.scope_employee(None)
            )
        )
    months: dict[tuple[str, str, str], tuple[int, Decimal]] = {}
    for s in items:
        count, total = months.get((s.period, s.currency, s.status), (0, Decimal(0)))
        months[s.period, s.currency, s.status] = (count + 1, total + s.total)
    return render(
        request,
        "statements.html",
        {
            "items": items,
            "names": names,
            "months": sorted(months.items(), reverse=True),
            "period": period or "",
            "status": status or "",
            "may_close": me.role in ("admin", "manager"),
            "fleets": await _fleets(request, me),
            "notice": _notice(request),
        },
    )


_COUNTS = re.compile(r"^\d{1,6}$")
_NUMBER = re.compile(r"^[SC]-\d{4}-\d{5,}$")


def _notice(request: web.Request) -> str | None:
    """What the last action did, rebuilt from checked values (never text from the address)."""
    q = request.query
    counts = [q.get(k, "") for k in ("created", "refreshed", "unchanged")]
    if all(_COUNTS.match(c) for c in counts):
        return f"Drafts: {counts[0]} created, {counts[1]} refreshed, {counts[2]} unchanged."
    if _COUNTS.match(q.get("finalized", "")):
        return f"{q['finalized']} statement(s) finalized."
    if _NUMBER.match(q.get("number", "")):
        return f"Finalized as {q['number']}."
    if q.get("voided") == "1":
        return "Voided; its number stays used and its lines return to the next draft."
    if _COUNTS.match(q.get("exported", "")):
        return f"Export created with {q['exported']} document(s)."
    return None


@routes.post("/app/statements/drafts")
async def drafts(request: web.Request) -> web.StreamResponse:
    me = who(request)
    form = await request.post()
    period = _period(form.get("period"))
    counts = await service.refresh_drafts(
        request.app[POOL],
        me,
        fleet_id=_fleet_of(me, form.get("fleet_id")),
        period=period,
    )
    raise web.HTTPSeeOther(
        f"/app/statements?period={period}&created={counts.created}"
        f"&refreshed={counts.refreshed}&unchanged={counts.unchanged}"
    )


@routes.post("/app/statements/finalize")
async def finalize_month(request: web.Request) -> web.StreamResponse:
    me = who(request)
    form = await request.post()
    period = _period(form.get("period"))
    done = await service.finalize_period(
        request.app[POOL],
        me,
        fleet_id=_fleet_of(me, form.get("fleet_id")),
        period=period,
        now=datetime.now(UTC),
    )
    raise web.HTTPSeeOther(f"/app/statements?period={period}&finalized={len(done)}")


@routes.get("/app/statements/{id}")
async def statement_page(request: web.Request) -> web.Response:
    me = who(request)
    detail = await service.get_statement(request.app[POOL], me, path_id(request))
    async with connection(request.app[POOL]) as conn:
        employee = await master.get_employee(conn, detail.employee_id)
    return render(
        request,
        "statement.html",
        {"s": detail, "employee": employee, "notice": _notice(request)},
    )


@routes.post("/app/statements/{id}/finalize")
async def finalize_one(request: web.Request) -> web.StreamResponse:
    me = who(request)
    row = await service.finalize_statement(
        request.app[POOL], me, path_id(request), now=datetime.now(UTC)
    )
    raise web.HTTPSeeOther(f"/app/statements/{row.id}?number={row.number}")


@routes.post("/app/statements/{id}/void")
async def void(request: web.Request) -> web.StreamResponse:
    me = who(request)
    form = await request.post()
    reason = form.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidData("give a reason for voiding the statement")
    row = await service.void_statement(request.app[POOL], me, path_id(request), reason=reason[:500])
    raise web.HTTPSeeOther(f"/app/statements/{row.id}?voided=1")


@routes.get("/app/statements/{id}/pdf")
async def statement_pdf(request: web.Request) -> web.Response:
    statement_id = path_id(request)
    content = await pdfs.statement_pdf(
        request.app[POOL], who(request), statement_id, executor=request.app[PDF_EXECUTOR]
    )
    return web.Response(
        body=content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="statement-{statement_id}.pdf"'},
    )


@routes.get("/app/exports")
async def exports_page(request: web.Request) -> web.Response:
    me = staff(request)
    items = await exports.list_exports(
        request.app[POOL], me, fleet_id=None, after=After(), limit=LIMIT
    )
    return render(
        request,
        "exports.html",
        {
            "items": items,
            "fleets": await _fleets(request, me),
            "notice": _notice(request),
        },
    )


@routes.post("/app/exports")
async def create_export(request: web.Request) -> web.StreamResponse:
    me = staff(request)
    form = await request.post()
    chosen = form.get("format")
    formats: dict[object, ExportFormat] = {"csv": "csv", "datev-lodas": "datev-lodas"}
    if chosen not in formats:
        raise InvalidData("choose the format: csv or datev-lodas")
    export = await exports.create_export(
        request.app[POOL],
        me,
        fleet_id=_fleet_of(me, form.get("fleet_id")),
        format=formats[chosen],
        now=datetime.now(UTC),
    )
    raise web.HTTPSeeOther(f"/app/exports?exported={export.documents}")


@routes.get("/app/exports/{id}/file")
async def export_file(request: web.Request) -> web.Response:
    me = staff(request)
    stored = await exports.get_export_file(request.app[POOL], me, path_id(request))
    suffix, media = ("csv", "text/csv") if stored.format == "csv" else ("txt", "text/plain")
    return web.Response(
        body=stored.content,
        content_type=media,
        charset="utf-8" if stored.format == "csv" else "windows-1252",
        headers={
            "Content-Disposition": f'attachment; filename="payroll-{stored.sha256[:12]}.{suffix}"',
            "ETag": f'"{stored.sha256}"',
        },
    )
