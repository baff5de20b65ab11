"""Line items and the decisions on them; charge records, the evidence they come from."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from billing.api.problems import ApiError
from billing.api.queries import ChargeRecordQuery, LineItemQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import path_id, pool
from billing.db import line_items
from billing.db.pages import decode_cursor, next_cursor
from billing.db.pool import connection
from billing.domain.decisions import DecisionConflict, Requested
from billing.domain.line_items import (
    ApproveBody,
    ChargeRecordPage,
    DecisionResult,
    DecisionsBody,
    LineItem,
    LineItemDetail,
    LineItemPage,
    RejectBody,
    ReopenBody,
)
from billing.services import decisions

routes = Routes()


class ConflictingDecisions(ApiError):
    status = 409
    title = "Conflict"


async def _decide(
    request: web.Request, requests: Sequence[Requested], fields: Sequence[str]
) -> list[LineItem]:
    """Decide in one transaction; a conflict names each offending item in `errors`."""
    try:
        return await decisions.decide(pool(request), principal(request), requests)
    except DecisionConflict as exc:
        errors = [
            {"field": fields[c.index], "message": f"line item {c.id} {c.problem}"}
            for c in exc.conflicts
        ]
        raise ConflictingDecisions(exc.message, errors) from None


@routes.route(
    "GET",
    "/v1/line-items",
    summary="List line items, oldest first",
    tag="line items",
    query=LineItemQuery,
    response=LineItemPage,
)
async def list_line_items(request: web.Request, query: LineItemQuery) -> web.Response:
    who = principal(request)
    async with connection(pool(request)) as conn:
        page = await line_items.list_line_items_json(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            employee_id=who.scope_employee(query.employee_id),
            vehicle_id=query.vehicle_id,
            status=query.status,
            kind=query.kind,
            period=query.period,
            after=decode_cursor(query.cursor),
            limit=query.limit,
            charged_from=query.from_,
            charged_to=query.to,
        )
    return web.Response(body=page.page(), content_type="application/json")


@routes.route(
    "GET",
    "/v1/line-items/{id}",
    summary="One line item with its evidence",
    tag="line items",
    response=LineItemDetail,
)
async def get_line_item(request: web.Request) -> LineItemDetail:
    if request.match_info["id"] == "decisions":  # the bulk endpoint's path, asked with GET
        raise web.HTTPMethodNotAllowed("GET", ["POST"])
    async with connection(pool(request)) as conn:
        return await line_items.get_line_item_detail(conn, principal(request), path_id(request))


@routes.route(
    "POST",
    "/v1/line-items/{id}/approve",
    summary="Approve a pending line item at the given version",
    tag="line items",
    body=ApproveBody,
    response=LineItem,
    errors=(403, 409),
)
async def approve_line_item(request: web.Request, body: ApproveBody) -> LineItem:
    decision = Requested(path_id(request), "approve", body.version)
    return (await _decide(request, [decision], ["body.version"]))[0]


@routes.route(
    "POST",
    "/v1/line-items/{id}/reject",
    summary="Reject a pending line item at the given version, with a reason",
    tag="line items",
    body=RejectBody,
    response=LineItem,
    errors=(403, 409),
)
async def reject_line_item(request: web.Request, body: RejectBody) -> LineItem:
    decision = Requested(path_id(request), "reject", body.version, body.reason)
    return (await _decide(request, [decision], ["body.version"]))[0]


@routes.route(
    "POST",
    "/v1/line-items/{id}/reopen",
    summary="Return a decided line item to pending (not once it is on a statement)",
    tag="line items",
    body=ReopenBody,
    response=LineItem,
    errors=(403, 409),
)
async def reopen_line_item(request: web.Request, body: ReopenBody) -> LineItem:
    decision = Requested(path_id(request), "reopen", body.version, body.reason)
    return (await _decide(request, [decision], ["body.version"]))[0]


@routes.route(
    "POST",
    "/v1/line-items/decisions",
    summary="Approve or reject many line items: all or nothing",
    tag="line items",
    body=DecisionsBody,
    response=DecisionResult,
    errors=(403, 409),
)
async def decide_line_items(request: web.Request, body: DecisionsBody) -> DecisionResult:
    requests = [Requested(d.id, d.decision, d.version, d.reason) for d in body.decisions]
    fields = [f"body.decisions.{i}.version" for i in range(len(requests))]
    return DecisionResult(items=await _decide(request, requests, fields))


@routes.route(
    "GET",
    "/v1/charge-records",
    summary="List charge records as received, oldest first",
    tag="charge records",
    query=ChargeRecordQuery,
    response=ChargeRecordPage,
)
async def list_charge_records(request: web.Request, query: ChargeRecordQuery) -> ChargeRecordPage:
    who = principal(request)
    async with connection(pool(request)) as conn:
        items = await line_items.list_charge_records(
            conn,
            fleet_id=who.scope_fleet(query.fleet_id),
            employee_id=who.scope_employee(query.employee_id),
            vehicle_id=query.vehicle_id,
            from_=query.from_,
            to=query.to,
            unpriced=query.unpriced,
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    return ChargeRecordPage(items=items, next_cursor=next_cursor(items, query.limit))
