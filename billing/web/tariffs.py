"""Tariffs and deliberate corrections of a past price: preview the difference, then apply."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from pydantic import ValidationError

from billing.api.keys import POOL
from billing.db import master, views
from billing.db.pages import After
from billing.db.pool import connection
from billing.domain.corrections import CorrectionBody
from billing.domain.errors import InvalidData, NotFound
from billing.services.corrections import apply_correction, preview_correction
from billing.web.render import render
from billing.web.session import path_id, staff, who

routes = web.RouteTableDef()
LIST_LIMIT = 500


async def _page(request: web.Request, **extra: object) -> web.Response:
    me = staff(request)
    fleet_id = me.scope_fleet(None)
    async with connection(request.app[POOL]) as conn:
        tariffs = await master.list_tariffs(
            conn,
            fleet_id=fleet_id,
            employee_id=None,
            with_fleet_defaults=True,
            on=None,
            after=After(),
            limit=LIST_LIMIT,
        )
        names = dict(await views.employee_names(conn, fleet_id=fleet_id, employee_id=None))
    context: dict[str, object] = {
        "tariffs": tariffs,
        "names": names,
        "may_correct": me.role in ("admin", "manager"),
        "correcting": None,
        "form": {},
        "correction": None,
    }
    return render(request, "tariffs.html", context | extra)


@routes.get("/app/tariffs")
async def tariffs_page(request: web.Request) -> web.Response:
    correcting = request.query.get("correct")
    if correcting is None:
        return await _page(request)
    try:
        tariff_id = UUID(correcting)
    except ValueError:
        raise NotFound() from None
    return await _page(request, correcting=tariff_id)


async def _body(request: web.Request) -> tuple[CorrectionBody, dict[str, str]]:
    posted = await request.post()
    form = {k: v for k in ("price_per_kwh", "from", "to") if isinstance(v := posted.get(k), str)}
    given = {k: v.strip() for k, v in form.items() if v.strip()}
    try:
        return CorrectionBody.model_validate(given), form
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise InvalidData(f"check these fields: {fields or 'the dates'}") from None


@routes.post("/app/tariffs/{id}/preview")
async def preview(request: web.Request) -> web.Response:
    me = who(request)
    tariff_id = path_id(request)
    body, form = await _body(request)
    correction = await preview_correction(request.app[POOL], me, tariff_id, body)
    return await _page(request, correcting=tariff_id, form=form, correction=correction)


@routes.post("/app/tariffs/{id}/apply")
async def apply(request: web.Request) -> web.Response:
    me = who(request)
    tariff_id = path_id(request)
    body, form = await _body(request)
    correction = await apply_correction(request.app[POOL], me, tariff_id, body)
    return await _page(request, correcting=None, form=form, correction=correction)
