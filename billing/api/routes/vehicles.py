"""Vehicles, including the import of an existing Smartcar connection's tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.keys import CIPHER
from billing.api.queries import VehicleQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import audit, master, vehicles
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import transaction
from billing.domain.errors import Conflict, Forbidden
from billing.domain.models import Vehicle, VehicleCreate, VehiclePage

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
    who = principal(request)
    now = datetime.now(UTC)
    async with transaction(pool(request)) as conn:
        employee = await master.get_employee(conn, body.employee_id)
        who.check_manages(employee.fleet_id, employee.id, what="employee")
        connection_id = None
        if body.tokens is not None:
            connection_id = await vehicles.insert_connection(
                conn, request.app[CIPHER], employee.id, body.tokens, now
            )
        vehicle = await vehicles.insert_vehicle(
            conn,
            body,
            fleet_id=employee.fleet_id,
            connection_id=connection_id,
            granted_on=now if connection_id else None,
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=vehicle.fleet_id,
            entity="vehicle",
            entity_id=vehicle.id,
            action="create",
            after=vehicle,
        )
    return vehicle


@routes.route(
    "GET",
    "/v1/vehicles",
    summary="List vehicles with their sync state",
    tag="vehicles",
    query=VehicleQuery,
    response=VehiclePage,
)
async def list_vehicles(request: web.Request, query: VehicleQuery) -> VehiclePage:
    who = principal(request)
    async with pool(request).acquire() as conn:
        items = await vehicles.list_vehicles(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            employee_id=who.scope_employee(query.employee_id),
            sync_state=query.sync_state,
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    return VehiclePage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route("GET", "/v1/vehicles/{id}", summary="One vehicle", tag="vehicles", response=Vehicle)
async def get_vehicle(request: web.Request) -> Vehicle:
    async with pool(request).acquire() as conn:
        vehicle = await vehicles.get_vehicle(conn, path_id(request))
    principal(request).check_sees(vehicle.fleet_id, vehicle.employee_id, what="vehicle")
    return vehicle


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
    who = principal(request)
    async with transaction(pool(request)) as conn:
        vehicle = await vehicles.get_vehicle(conn, path_id(request))
        who.check_sees(vehicle.fleet_id, vehicle.employee_id, what="vehicle")
        if who.role not in ("admin", "manager"):
            raise Forbidden(f"the {who.role} role may not ask for a sync")
        if not await vehicles.request_sync(conn, vehicle.id):
            raise Conflict("this vehicle cannot provide charge records; it is not polled")
        return await vehicles.get_vehicle(conn, vehicle.id)
