"""The landing page, employees and their cars, tariffs, and an employee's own page."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from billing.api.cookies import bind_browser
from billing.api.keys import POOL, SETTINGS
from billing.db import master, vehicles, views
from billing.db.pages import After
from billing.db.pool import connection
from billing.domain.errors import Forbidden, InvalidData
from billing.domain.models import Vehicle
from billing.services import invitations
from billing.services.connect import new_binding, start_connect
from billing.services.reassignments import decide_reassignment, list_reassignments
from billing.web import charts
from billing.web.render import render
from billing.web.session import path_id, staff, who

routes = web.RouteTableDef()
LIST_LIMIT = 500
START = After(created_at=None, id=None)

SYNC_ADVICE = {
    "needs_reauth": "The employee must connect the car again (use the reconnect link).",
    "owner_action": "The owner must act in their Tesla account (see the last error).",
    "not_capable": "This car cannot provide charge records through Smartcar; it is not read.",
    "failed": "Reading failed for a reason that needs an operator; see the last error.",
    "retry_later": "A temporary problem; it is read again automatically.",
    "throttled": "Smartcar asked to wait; it is read again after the wait.",
}


@routes.get("/app")
async def landing(request: web.Request) -> web.Response:
    me = who(request)
    async with connection(request.app[POOL]) as conn:
        totals = await views.monthly_totals(
            conn, fleet_id=me.scope_fleet(None), employee_id=me.scope_employee(None)
        )
    currency = totals[0].currency if totals else ""
    return render(
        request,
        "landing.html",
        {
            "amount_chart": charts.monthly(
                totals, measure="amount", unit=currency, title="Amount per month"
            ),
            "kwh_chart": charts.monthly(
                totals, measure="kwh", unit="kWh", title="Home charging per month"
            ),
            "totals": totals,
        },
    )


@routes.get("/app/employees")
async def employees_page(request: web.Request) -> web.Response:
    me = staff(request)
    fleet_id = me.scope_fleet(None)
    async with connection(request.app[POOL]) as conn:
        people = await master.list_employees(
            conn, fleet_id=fleet_id, only=None, after=START, limit=LIST_LIMIT
        )
        cars = await vehicles.list_vehicles(
            conn, fleet_id=fleet_id, employee_id=None, sync_state=None, after=START, limit=5000
        )
    by_employee: dict[UUID, list[Vehicle]] = {}
    for car in cars:
        by_employee.setdefault(car.employee_id, []).append(car)
    waiting = await list_reassignments(request.app[POOL], me, fleet_id=fleet_id, status="pending")
    return render(
        request,
        "employees.html",
        {
            "people": people,
            "cars": by_employee,
            "advice": SYNC_ADVICE,
            "waiting": waiting,
            "may_decide": me.role in ("admin", "manager"),
        },
    )


@routes.post("/app/reassignments/{id}/{decision:accept|refuse}")
async def decide_move(request: web.Request) -> web.StreamResponse:
    me = staff(request)
    form = await request.post()
    reason = form.get("reason")
    decision = request.match_info["decision"]
    text = reason.strip() if isinstance(reason, str) else ""
    if decision == "refuse" and not text:
        raise InvalidData("give a reason for keeping the car with its employee")
    await decide_reassignment(
        request.app[POOL],
        me,
        path_id(request),
        "accepted" if decision == "accept" else "refused",
        now=datetime.now(UTC),
        reason=text[:500] or None,
    )
    raise web.HTTPSeeOther("/app/employees")


async def _connect(request: web.Request, employee_id: UUID) -> web.StreamResponse:
    binding = new_binding()
    target = await start_connect(
        request.app[POOL],
        request.app[SETTINGS],
        who(request),
        employee_id,
        binding=binding,
        now=datetime.now(UTC),
    )
    redirect = web.HTTPSeeOther(target)
    bind_browser(redirect, request, binding)
    raise redirect


@routes.post("/app/employees/{id}/connect")
async def connect_for_employee(request: web.Request) -> web.StreamResponse:
    staff(request)
    return await _connect(request, path_id(request))


@routes.post("/app/me/connect")
async def connect_my_car(request: web.Request) -> web.StreamResponse:
    me = who(request)
    if me.role != "employee" or me.employee_id is None:
        raise Forbidden("this page is for employees; managers see /app/employees")
    return await _connect(request, me.employee_id)


async def _employee(request: web.Request, employee_id: UUID, **extra: object) -> web.Response:
    me = who(request)
    async with connection(request.app[POOL]) as conn:
        employee = await master.get_employee(conn, employee_id)
        me.check_sees(employee.fleet_id, employee.id)
        cars = await vehicles.list_vehicles(
            conn, fleet_id=None, employee_id=employee.id, sync_state=None, after=START, limit=100
        )
        totals = await views.monthly_totals(
            conn, fleet_id=employee.fleet_id, employee_id=employee.id
        )
    currency = totals[0].currency if totals else ""
    return render(
        request,
        "employee.html",
        {
            "employee": employee,
            "cars": cars,
            "advice": SYNC_ADVICE,
            "amount_chart": charts.monthly(
                totals, measure="amount", unit=currency, title="Amount per month"
            ),
            "may_invite": me.role in ("admin", "manager") and me.employee_id != employee.id,
            "may_connect": me.role in ("admin", "manager", "employee"),
            "invitation": None,
            **extra,
        },
    )


@routes.get("/app/employees/{id}")
async def employee_page(request: web.Request) -> web.Response:
    staff(request)
    return await _employee(request, path_id(request))


@routes.post("/app/employees/{id}/invitation")
async def invite(request: web.Request) -> web.Response:
    me = staff(request)
    employee_id = path_id(request)
    key = await invitations.invite_employee(
        request.app[POOL], me, employee_id, now=datetime.now(UTC)
    )
    return await _employee(request, employee_id, invitation=key)


@routes.get("/app/me")
async def me_page(request: web.Request) -> web.Response:
    me = who(request)
    if me.role != "employee" or me.employee_id is None:
        raise Forbidden("this page is for employees; managers see /app/employees")
    return await _employee(request, me.employee_id)
