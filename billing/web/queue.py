"""The approval queue and a line's evidence: the pages a fleet manager works in."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from billing.api.keys import POOL
from billing.db import audit, line_items, views
from billing.db.pool import connection
from billing.domain.decisions import DecisionConflict, Requested
from billing.domain.errors import InvalidData
from billing.domain.line_items import DecisionsBody, LineItemKind, LineItemStatus
from billing.services import decisions
from billing.web.render import render
from billing.web.session import path_id, who

routes = web.RouteTableDef()
PAGE_SIZE = 500


class QueueParams(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    status: LineItemStatus | None = None
    employee_id: UUID | None = None
    period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    kind: LineItemKind | None = None
    flag: str | None = Field(default=None, pattern=r"^[a-z_]{1,40}$")
    sort: views.QueueSort = "charge_date"
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(default=1, ge=1, le=10_000)

    @classmethod
    def parse(cls, query: dict[str, str]) -> QueueParams:
        given = {name: value for name, value in query.items() if value != ""}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
            raise InvalidData(f"these filters are not valid: {fields}") from None

    def query(self, **changes: object) -> str:
        values = self.model_dump(exclude_defaults=True) | changes
        return urlencode({k: str(v) for k, v in values.items() if v is not None})


def _as_mapping(request: web.Request) -> dict[str, str]:
    return {name: request.query[name] for name in request.query}


async def _queue(
    request: web.Request, params: QueueParams, *, status: int = 200, notice: str | None = None
) -> web.Response:
    me = who(request)
    scope = views.QueueFilter(
        fleet_id=me.scope_fleet(None),
        employee_id=me.scope_employee(params.employee_id),
        status=params.status,
        period=params.period,
        kind=params.kind,
        flag=params.flag,
    )
    async with connection(request.app[POOL]) as conn:
        rows, total = await views.queue(
            conn,
            scope,
            sort=params.sort,
            descending=params.order == "desc",
            limit=PAGE_SIZE,
            offset=(params.page - 1) * PAGE_SIZE,
        )
        employees = await views.employee_names(
            conn, fleet_id=scope.fleet_id, employee_id=me.scope_employee(None)
        )
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row.currency] = sums.get(row.currency, Decimal(0)) + row.amount
    return render(
        request,
        "queue.html",
        {
            "rows": rows,
            "total": total,
            "sums": sorted(sums.items()),
            "params": params,
            "employees": employees,
            "may_decide": me.role in ("admin", "manager"),
            "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE,
            "notice": notice,
        },
        status=status,
    )


@routes.get("/app/line-items")
async def queue_page(request: web.Request) -> web.Response:
    params = QueueParams.parse(_as_mapping(request))
    notice = None
    if request.query.get("decided", "").isdigit():
        verb = "approved" if request.query.get("decision") == "approve" else "rejected"
        notice = f"{int(request.query['decided'])} line item(s) {verb}."
    return await _queue(request, params, notice=notice)


def _decisions(form: dict[str, list[str]]) -> DecisionsBody:
    """The selected rows as the API's bulk body, so the page obeys exactly the API's rules."""
    decision = (form.get("decision") or [""])[0]
    reason = (form.get("reason") or [""])[0].strip() or None
    entries = []
    for item in form.get("item", []):
        item_id, _, version = item.partition(":")
        entries.append({"id": item_id, "decision": decision, "version": version, "reason": reason})
    if not entries:
        raise InvalidData("choose at least one line item")
    try:
        return DecisionsBody.model_validate({"decisions": entries})
    except ValidationError as exc:
        messages = sorted({error["msg"].removeprefix("Value error, ") for error in exc.errors()})
        raise InvalidData("; ".join(messages)) from None


@routes.post("/app/line-items/decide")
async def decide(request: web.Request) -> web.Response:
    me = who(request)
    posted = await request.post()
    form: dict[str, list[str]] = {}
    for name, value in posted.items():
        if isinstance(value, str):
            form.setdefault(name, []).append(value)
    # the queue's filters ride along as hidden f_* fields, to come back to the same view
    params = QueueParams.parse(
        {name.removeprefix("f_"): v[0] for name, v in form.items() if name.startswith("f_")}
    )
    body = _decisions(form)
    requests = [Requested(d.id, d.decision, d.version, d.reason) for d in body.decisions]
    try:
        decided = await decisions.decide(request.app[POOL], me, requests)
    except DecisionConflict as exc:
        problems = "; ".join(f"line item {c.id} {c.problem}" for c in exc.conflicts)
        notice = (
            f"Nothing was changed: {problems}. Someone else changed these lines since the page "
            "was loaded; the list below is current, review and decide again."
        )
        return await _queue(request, params, status=409, notice=notice)
    query = params.query(decided=len(decided), decision=body.decisions[0].decision)
    raise web.HTTPSeeOther(f"/app/line-items?{query}")


@routes.get("/app/line-items/{id}")
async def line_page(request: web.Request) -> web.Response:
    me = who(request)
    item_id = path_id(request)
    async with connection(request.app[POOL]) as conn:
        detail = await line_items.get_line_item_detail(conn, me, item_id)
        events = await audit.list_events(
            conn,
            fleet_id=me.scope_fleet(None),
            entity="line_item",
            entity_id=item_id,
            after_id=0,
            limit=200,
        )
        names = dict(
            await views.employee_names(
                conn, fleet_id=detail.fleet_id, employee_id=detail.employee_id
            )
        )
    return render(
        request,
        "line_item.html",
        {
            "item": detail,
            "evidence": detail.evidence,
            "events": events,
            "employee_name": names.get(detail.employee_id, ""),
            "may_decide": me.role in ("admin", "manager") and detail.status == "pending",
        },
    )
