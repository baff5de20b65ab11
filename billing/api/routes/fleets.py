"""Fleets."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import FleetQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import audit, master
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import transaction
from billing.domain.errors import Forbidden
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
    who = principal(request)
    if who.role != "admin":
        raise Forbidden("only an admin key may create fleets")
    async with transaction(pool(request)) as conn:
        fleet = await master.insert_fleet(conn, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=fleet.id,
            entity="fleet",
            entity_id=fleet.id,
            action="create",
            after=fleet,
        )
    return fleet


@routes.route(
    "GET",
    "/v1/fleets",
    summary="List the fleets the key can see",
    tag="fleets",
    query=FleetQuery,
    response=FleetPage,
)
async def list_fleets(request: web.Request, query: FleetQuery) -> FleetPage:
    only = principal(request).scope_fleet(None)
    async with pool(request).acquire() as conn:
        items = await master.list_fleets(
            conn, only=only, after=decode_cursor(query.cursor), limit=query.limit
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
    async with pool(request).acquire() as conn:
        fleet = await master.get_fleet(conn, path_id(request))
    principal(request).check_sees(fleet.id, what="fleet")
    return fleet
