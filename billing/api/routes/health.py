"""Liveness, readiness, metrics and the API's own description."""

from __future__ import annotations

from importlib import resources

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from billing.api.keys import METRICS, OPENAPI
from billing.api.registry import Routes
from billing.api.routes.common import pool
from billing.db import changes
from billing.db.migrations import current_revision, head_revision
from billing.db.pool import connection
from billing.domain.errors import DatabaseFailure, Retryable

routes = Routes()


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str


@routes.route(
    "GET",
    "/healthz",
    summary="The process is alive",
    tag="operations",
    response=Health,
    public=True,
)
async def healthz(request: web.Request) -> Health:
    return Health(status="ok")


@routes.route(
    "GET",
    "/readyz",
    summary="The database answers and its schema is at head",
    tag="operations",
    response=Readiness,
    public=True,
    errors=(503,),
)
async def readyz(request: web.Request) -> web.Response | Readiness:
    expected = head_revision()
    try:
        async with connection(pool(request), wait_s=5) as conn:
            current = await current_revision(conn)
    except Exception as exc:  # any failure to reach the database means not ready
        body = Readiness(
            status="unavailable",
            database=type(exc).__name__,
            schema_revision=None,
            expected_revision=expected,
        )
        return web.json_response(body.model_dump(), status=503)
    ready = current == expected
    body = Readiness(
        status="ok" if ready else "migrations pending (run `billing migrate`)",
        database="ok",
        schema_revision=current,
        expected_revision=expected,
    )
    return body if ready else web.json_response(body.model_dump(), status=503)


@routes.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    tag="operations",
    public=True,
    raw_response="text/plain",
)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; the change feed's gauges are read from the database at each scrape."""
    app_metrics = request.app[METRICS]
    try:
        async with connection(pool(request), wait_s=2) as conn:
            lag = await changes.held_back(conn)
    except (OSError, TimeoutError, Retryable, DatabaseFailure):
        app_metrics.observe_feed(None, None)  # the other metrics are still worth serving
    else:
        # No start visible: none runs (0 ids behind), or another role's (unknown).
        age = lag.age_s if lag.age_s is not None else (0.0 if lag.xids == 0 else None)
        app_metrics.observe_feed(age, lag.xids)
    body = generate_latest(app_metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.route(
    "GET",
    "/v1/openapi.json",
    summary="This document",
    tag="operations",
    public=True,
    raw_response="application/json",
)
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


@routes.route(
    "GET",
    "/docs",
    summary="API documentation page",
    tag="operations",
    public=True,
    raw_response="text/html",
)
async def docs_page(request: web.Request) -> web.Response:
    page = resources.files("billing.api").joinpath("docs.html").read_text()
    return web.Response(text=page, content_type="text/html")
