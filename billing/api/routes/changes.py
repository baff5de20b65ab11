"""The change feed for pollers such as payroll systems."""

from __future__ import annotations

from aiohttp import web

from billing.api.queries import ChangesQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.db import changes
from billing.db.pool import connection
from billing.domain.changes import FEED_ENTITIES, ChangePage
from billing.domain.errors import Forbidden

routes = Routes()


@routes.route(
    "GET",
    "/v1/changes",
    summary="Committed changes in commit order; follow next_cursor to see each exactly once",
    tag="changes",
    query=ChangesQuery,
    response=ChangePage,
    errors=(403,),
)
async def list_changes(request: web.Request, query: ChangesQuery) -> ChangePage:
    who = principal(request)
    if who.role == "employee":
        # The feed carries the whole fleet's records; employees read their own items directly.
        raise Forbidden("the employee role may not read the change feed")
    fleet_id = who.scope_fleet(query.fleet_id)
    after = changes.decode_position(query.after)
    async with connection(pool(request)) as conn:
        return await changes.list_changes(
            conn,
            after=after,
            fleet_id=fleet_id,
            entities=FEED_ENTITIES if query.entity is None else (query.entity,),
            limit=query.limit,
        )
