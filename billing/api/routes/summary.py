"""The fleet summary for managers and HR."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import master, summary
from billing.db.pool import connection
from billing.domain.errors import Forbidden
from billing.domain.summary import FleetSummary

routes = Routes()


@routes.route(
    "GET",
    "/v1/fleets/{id}/summary",
    summary="Pending amounts, unpriced days, sync health and budget of one fleet",
    tag="fleets",
    response=FleetSummary,
    errors=(403,),
)
async def get_fleet_summary(request: web.Request) -> FleetSummary:
    who = principal(request)
    async with connection(pool(request)) as conn:
        fleet = await master.get_fleet(conn, path_id(request))
        who.check_sees(fleet.id, what="fleet")
        if who.role == "employee":
            raise Forbidden("the employee role may not read fleet summaries")
        return await summary.fleet_summary(conn, fleet, today=datetime.now(UTC).date())
