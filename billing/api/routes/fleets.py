"""Fleets."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import FleetQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.models import Fleet, FleetCreate, FleetPage
from billing.domain.statement_models import FleetSettingsBody
from billing.services import fleets

routes = Routes()


@routes.route(
    "POST",
    "/v1/fleets",
    summary="Create a fleet (admin)",
    tag="fleets",
    body=FleetCreate,
    response=Fleet,
    status=201,
    errors=(403,),
)
async def create_fleet(request: web.Request, body: FleetCreate) -> Fleet:
    return await fleets.create_fleet(pool(request), principal(request), body)


@routes.route(
    "GET",
    "/v1/fleets",
    summary="List the fleets the key can see",
    tag="fleets",
    query=FleetQuery,
    response=FleetPage,
)
async def list_fleets(request: web.Request, query: FleetQuery) -> FleetPage:
    items = await fleets.list_fleets(
        pool(request), principal(request), after=decode_cursor(query.cursor), limit=query.limit
    )
    return FleetPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "PATCH",
    "/v1/fleets/{id}",
    summary="Change a fleet's document settings: locale, auto-finalize, DATEV numbers",
    tag="fleets",
    body=FleetSettingsBody,
    response=Fleet,
    errors=(403, 404),
)
async def update_fleet(request: web.Request, body: FleetSettingsBody) -> Fleet:
    return await fleets.update_settings(pool(request), principal(request), path_id(request), body)


@routes.route("GET", "/v1/fleets/{id}", summary="One fleet", tag="fleets", response=Fleet)
async def get_fleet(request: web.Request) -> Fleet:
    return await fleets.get_fleet(pool(request), principal(request), path_id(request))
