"""Vehicle reassignments that Connect asked for: a manager accepts or refuses each move."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db.reassignments import Reassignment, ReassignmentView
from billing.services.reassignments import decide_reassignment, list_reassignments

routes = Routes()


class ReassignmentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fleet_id: UUID | None = None
    status: Literal["pending", "accepted", "refused"] | None = None


class ReassignmentPage(BaseModel):
    items: list[ReassignmentView]
    next_cursor: str | None = None


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefuseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


@routes.route(
    "GET",
    "/v1/vehicle-reassignments",
    summary="Moves of a car between employees that Connect asked for",
    tag="vehicles",
    query=ReassignmentQuery,
    response=ReassignmentPage,
)
async def list_vehicle_reassignments(
    request: web.Request, query: ReassignmentQuery
) -> ReassignmentPage:
    items = await list_reassignments(
        pool(request), principal(request), fleet_id=query.fleet_id, status=query.status
    )
    return ReassignmentPage(items=items)


@routes.route(
    "POST",
    "/v1/vehicle-reassignments/{id}/accept",
    summary="Move the car to the employee who connected it",
    tag="vehicles",
    body=AcceptBody,
    response=Reassignment,
    errors=(403, 409),
)
async def accept_vehicle_reassignment(request: web.Request, body: AcceptBody) -> Reassignment:
    return await decide_reassignment(
        pool(request), principal(request), path_id(request), "accepted", now=datetime.now(UTC)
    )


@routes.route(
    "POST",
    "/v1/vehicle-reassignments/{id}/refuse",
    summary="Keep the car with its employee",
    tag="vehicles",
    body=RefuseBody,
    response=Reassignment,
    errors=(403, 409),
)
async def refuse_vehicle_reassignment(request: web.Request, body: RefuseBody) -> Reassignment:
    return await decide_reassignment(
        pool(request),
        principal(request),
        path_id(request),
        "refused",
        now=datetime.now(UTC),
        reason=body.reason,
    )
