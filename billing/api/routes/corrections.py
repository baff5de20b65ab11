"""Deliberate corrections of a tariff's past price: preview the difference, then apply it."""

from __future__ import annotations

from aiohttp import web

from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import corrections, master
from billing.db.pool import transaction
from billing.domain.corrections import Correction, CorrectionBody
from billing.services import money

routes = Routes()


@routes.route(
    "POST",
    "/v1/tariffs/{id}/corrections/preview",
    summary="Preview a price correction: every line it changes or creates, and the totals",
    tag="tariffs",
    body=CorrectionBody,
    response=Correction,
    errors=(403,),
)
async def preview_tariff_correction(request: web.Request, body: CorrectionBody) -> Correction:
    who = principal(request)
    async with transaction(pool(request)) as conn:
        tariff = await master.get_tariff(conn, path_id(request))
        who.check_manages(tariff.fleet_id, tariff.employee_id, what="tariff")
        return await corrections.preview(conn, tariff, body)


@routes.route(
    "POST",
    "/v1/tariffs/{id}/corrections",
    summary="Correct a tariff's price over a range: pending lines follow, decided ones get"
    " adjustments",
    tag="tariffs",
    body=CorrectionBody,
    response=Correction,
    errors=(403, 409),
)
async def apply_tariff_correction(request: web.Request, body: CorrectionBody) -> Correction:
    who = principal(request)
    async with transaction(pool(request)) as conn:
        tariff = await master.get_tariff(conn, path_id(request))
        who.check_manages(tariff.fleet_id, tariff.employee_id, what="tariff")
        return await money.apply_correction(conn, who, tariff, body)
