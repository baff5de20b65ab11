"""Deliberate corrections of a tariff's past price: preview the difference, then apply it."""

from __future__ import annotations

from aiohttp import web

from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.domain.correction_results import Correction
from billing.domain.corrections import CorrectionBody
from billing.services.corrections import apply_correction, preview_correction

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
    return await preview_correction(pool(request), principal(request), path_id(request), body)


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
    return await apply_correction(pool(request), principal(request), path_id(request), body)
