"""Reassignments Connect offered: a manager accepts (the car or account moves) or refuses."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import ReassignmentQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import reassignments
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import transaction
from billing.domain.errors import Forbidden
from billing.domain.models import Reassignment, ReassignmentPage
from billing.services import reassignments as decisions

routes = Routes()


@routes.route(
    "GET",
    "/v1/reassignments",
    summary="Cars and Smartcar accounts Connect found registered for a colleague",
    tag="connect",
    query=ReassignmentQuery,
    response=ReassignmentPage,
    errors=(403,),
)
async def list_reassignments(request: web.Request, query: ReassignmentQuery) -> ReassignmentPage:
    who = principal(request)
    if who.role == "employee":
        raise Forbidden("the employee role may not read reassignments")
    async with pool(request).acquire() as conn:
        items = await reassignments.list_reassignments(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            status=query.status,
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    return ReassignmentPage(items=items, next_cursor=next_cursor(items, query.limit))


@routes.route(
    "POST",
    "/v1/reassignments/{id}/accept",
    summary="Move the car or account to the employee who connected it",
    tag="connect",
    response=Reassignment,
    errors=(403, 409),
)
async def accept_reassignment(request: web.Request) -> Reassignment:
    async with transaction(pool(request)) as conn:
        return await decisions.accept(conn, principal(request), path_id(request))


@routes.route(
    "POST",
    "/v1/reassignments/{id}/refuse",
    summary="Leave the car or account where it is",
    tag="connect",
    response=Reassignment,
    errors=(403, 409),
)
async def refuse_reassignment(request: web.Request) -> Reassignment:
    async with transaction(pool(request)) as conn:
        return await decisions.refuse(conn, principal(request), path_id(request))
