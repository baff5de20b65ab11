"""The audit log, read-only."""

from __future__ import annotations

import re

from aiohttp import web

from billing.api.queries import AuditQuery
from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.db import audit
from billing.db.pool import connection
from billing.domain.errors import Forbidden, InvalidData
from billing.domain.models import AuditEventPage

routes = Routes()
_EVENT_ID = re.compile(r"[0-9]{1,19}")


@routes.route(
    "GET",
    "/v1/audit-events",
    summary="Audit events, oldest first",
    tag="audit",
    query=AuditQuery,
    response=AuditEventPage,
    errors=(403,),
)
async def list_audit_events(request: web.Request, query: AuditQuery) -> AuditEventPage:
    who = principal(request)
    if who.role == "employee":
        raise Forbidden("the employee role may not read the audit log")
    # an event id: ASCII digits within bigint (int() alone also reads "٣", "1_0" and " 7")
    if query.cursor and not (_EVENT_ID.fullmatch(query.cursor) and int(query.cursor) < 2**63):
        raise InvalidData("cursor is not one this service handed out")
    after_id = int(query.cursor) if query.cursor else 0
    async with connection(pool(request)) as conn:
        items = await audit.list_events(
            conn,
            fleet_id=who.scope_fleet(None),
            entity=query.entity,
            entity_id=query.entity_id,
            after_id=after_id,
            limit=query.limit,
        )
    cursor = str(items[-1].id) if len(items) == query.limit else None
    return AuditEventPage(items=items, next_cursor=cursor)
