"""Employees."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import EmployeeQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import audit, master
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import transaction
from billing.domain.models import Employee, EmployeeCreate, EmployeePage, EmployeeUpdate
from billing.services import money

routes = Routes()


@routes.route(
    "POST",
    "/v1/employees",
    summary="Create an employee",
    tag="employees",
    body=EmployeeCreate,
    response=Employee,
    status=201,
    errors=(403, 409),
)
async def create_employee(request: web.Request, body: EmployeeCreate) -> Employee:
    who = principal(request)
    who.check_manages(body.fleet_id, what="fleet")
    async with transaction(pool(request)) as conn:
        await master.get_fleet(conn, body.fleet_id)
        employee = await master.insert_employee(conn, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=employee.fleet_id,
            entity="employee",
            entity_id=employee.id,
            action="create",
            after=employee,
        )
    return employee


@routes.route(
    "GET",
    "/v1/employees",
    summary="List employees",
    tag="employees",
    query=EmployeeQuery,
    response=EmployeePage,
)
async def list_employees(request: web.Request, query: EmployeeQuery) -> EmployeePage:
    who = principal(request)
    async with pool(request).acquire() as conn:
        items = await master.list_employees(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            only=who.scope_employee(None),
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    return EmployeePage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "GET", "/v1/employees/{id}", summary="One employee", tag="employees", response=Employee
)
async def get_employee(request: web.Request) -> Employee:
    async with pool(request).acquire() as conn:
        employee = await master.get_employee(conn, path_id(request))
    principal(request).check_sees(employee.fleet_id, employee.id, what="employee")
    return employee


@routes.route(
    "PATCH",
    "/v1/employees/{id}",
    summary="Change an employee",
    tag="employees",
    body=EmployeeUpdate,
    response=Employee,
    errors=(403, 409),
)
async def update_employee(request: web.Request, body: EmployeeUpdate) -> Employee:
    who = principal(request)
    async with transaction(pool(request)) as conn:
        before = await master.get_employee(conn, path_id(request), for_update=True)
        who.check_manages(before.fleet_id, before.id, what="employee")
        await money.check_may_update(conn, who, before, body)
        after = await master.update_employee(conn, before, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=after.fleet_id,
            entity="employee",
            entity_id=after.id,
            action="update",
            before=before,
            after=after,
        )
    return after
