"""Employees."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import EmployeeQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.pages import decode_cursor, next_cursor
from billing.domain.models import Employee, EmployeeCreate, EmployeePage, EmployeeUpdate
from billing.services import employees

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
    return await employees.create_employee(pool(request), principal(request), body)


@routes.route(
    "GET",
    "/v1/employees",
    summary="List employees",
    tag="employees",
    query=EmployeeQuery,
    response=EmployeePage,
)
async def list_employees(request: web.Request, query: EmployeeQuery) -> EmployeePage:
    items = await employees.list_employees(
        pool(request),
        principal(request),
        fleet_id=query.fleet_id,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return EmployeePage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "GET", "/v1/employees/{id}", summary="One employee", tag="employees", response=Employee
)
async def get_employee(request: web.Request) -> Employee:
    return await employees.get_employee(pool(request), principal(request), path_id(request))


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
    return await employees.update_employee(
        pool(request), principal(request), path_id(request), body
    )
