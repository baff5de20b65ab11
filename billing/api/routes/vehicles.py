"""Vehicles, including the import of an existing Smartcar connection's tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.keys import CIPHER
from billing.api.queries import VehicleQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.models import Vehicle, VehicleCreate, VehiclePage
from billing.services import vehicles

routes = Routes()


@routes.route(
    "POST",
    "/v1/vehicles",
    summary="Register a vehicle, optionally with its Smartcar tokens",
    tag="vehicles",
    body=VehicleCreate,
    response=Vehicle,
    status=201,
    errors=(403, 409),
)
async def create_vehicle(request: web.Request, body: VehicleCreate) -> Vehicle:
    return await vehicles.create_vehicle(
        pool(request), request.app[CIPHER], principal(request), body, now=datetime.now(UTC)
    )


@routes.route(
    "GET",
    "/v1/vehicles",
    summary="List vehicles with their sync state",
    tag="vehicles",
    query=VehicleQuery,
    response=VehiclePage,
)
async def list_vehicles(request: web.Request, query: VehicleQuery) -> VehiclePage:
    items = await vehicles.list_vehicles(
        pool(request),
        principal(request),
        fleet_id=query.fleet_id,
        employee_id=query.employee_id,
        sync_state=query.sync_state,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return VehiclePage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route("GET", "/v1/vehicles/{id}", summary="One vehicle", tag="vehicles", response=Vehicle)
async def get_vehicle(request: web.Request) -> Vehicle:
    return await vehicles.get_vehicle(pool(request), principal(request), path_id(request))


@routes.route(
    "POST",
    "/v1/vehicles/{id}/sync",
    summary="Ask for a sync of this vehicle soon",
    tag="vehicles",
    response=Vehicle,
    status=202,
    errors=(403, 409),
)
async def request_vehicle_sync(request: web.Request) -> Vehicle:
    return await vehicles.request_sync(pool(request), principal(request), path_id(request))
