"""Tariffs: effective-dated prices per kWh for a fleet or one employee."""

from __future__ import annotations

from aiohttp import web

from billing.api.problems import RequestValidationFailed
from billing.api.queries import TariffQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import audit, ledger, master
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import transaction
from billing.domain.models import Tariff, TariffCreate, TariffPage
from billing.services import money

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
    who = principal(request)
    who.check_manages(body.fleet_id, what="fleet")
    async with transaction(pool(request)) as conn:
        await master.lock_fleet_tariffs(conn, body.fleet_id)
        fleet = await master.get_fleet(conn, body.fleet_id)
        if body.currency != fleet.currency:
            raise RequestValidationFailed(
                [{"field": "body.currency", "message": f"must be the fleet's ({fleet.currency})"}]
            )
        if body.employee_id is not None:
            employee = await master.get_employee(conn, body.employee_id)
            who.check_manages(employee.fleet_id, employee.id, what="employee")
            await money.check_may_price_for(conn, who, employee)
        await money.check_may_create_tariff(conn, who, body)
        tariff = await master.insert_tariff(conn, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=tariff.fleet_id,
            entity="tariff",
            entity_id=tariff.id,
            action="create",
            after=tariff,
        )
        # Days that had home energy but no tariff are priced now, without waiting for a sync.
        await ledger.price_unpriced(
            conn,
            fleet_id=tariff.fleet_id,
            employee_id=tariff.employee_id,
            valid_from=tariff.valid_from,
            valid_to=tariff.valid_to,
            actor=who.actor,
        )
    return tariff


@routes.route(
    "GET",
    "/v1/tariffs",
    summary="List tariffs, optionally those in force on a day",
    tag="tariffs",
    query=TariffQuery,
    response=TariffPage,
)
async def list_tariffs(request: web.Request, query: TariffQuery) -> TariffPage:
    who = principal(request)
    own = who.scope_employee(query.employee_id)
    async with pool(request).acquire() as conn:
        items = await master.list_tariffs(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            employee_id=own,
            with_fleet_defaults=who.role == "employee",
            on=query.on,
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    return TariffPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route("GET", "/v1/tariffs/{id}", summary="One tariff", tag="tariffs", response=Tariff)
async def get_tariff(request: web.Request) -> Tariff:
    async with pool(request).acquire() as conn:
        tariff = await master.get_tariff(conn, path_id(request))
    principal(request).check_sees(tariff.fleet_id, tariff.employee_id, what="tariff")
    return tariff
