"""Tariffs: effective-dated prices per kWh for a fleet or one employee."""

from __future__ import annotations

from aiohttp import web

from billing.api.problems import RequestValidationFailed
from billing.api.queries import TariffQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.models import Tariff, TariffCreate, TariffPage
from billing.services import tariffs

routes = Routes()


@routes.route(
    "POST",
    "/v1/tariffs",
    summary="Create a tariff (overlap within its scope: 409)",
    tag="tariffs",
    body=TariffCreate,
    response=Tariff,
    status=201,
    errors=(403, 409),
)
async def create_tariff(request: web.Request, body: TariffCreate) -> Tariff:
    try:
        return await tariffs.create_tariff(pool(request), principal(request), body)
    except tariffs.CurrencyMismatch as exc:
        error = {"field": "body.currency", "message": exc.message}
        raise RequestValidationFailed([error]) from None


@routes.route(
    "GET",
    "/v1/tariffs",
    summary="List tariffs, optionally those in force on a day",
    tag="tariffs",
    query=TariffQuery,
    response=TariffPage,
)
async def list_tariffs(request: web.Request, query: TariffQuery) -> TariffPage:
    items = await tariffs.list_tariffs(
        pool(request),
        principal(request),
        fleet_id=query.fleet_id,
        employee_id=query.employee_id,
        on=query.on,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return TariffPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route("GET", "/v1/tariffs/{id}", summary="One tariff", tag="tariffs", response=Tariff)
async def get_tariff(request: web.Request) -> Tariff:
    return await tariffs.get_tariff(pool(request), principal(request), path_id(request))
