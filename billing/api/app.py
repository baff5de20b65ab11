"""The JSON API's application factory; `billing.app.create_app` adds the web pages to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version

import aiohttp
from aiohttp import web

from billing.api.auth import auth_middleware
from billing.api.idempotency import idempotency_middleware
from billing.api.keys import CIPHER, METRICS, OPENAPI, PDF_EXECUTOR, POOL, SETTINGS, SMARTCAR
from billing.api.metrics import HttpMetrics, request_id_middleware
from billing.api.openapi import build_document
from billing.api.problems import problem_middleware
from billing.api.registry import add_routes
from billing.api.routes import (
    api_keys,
    assets,
    audit,
    changes,
    connect,
    corrections,
    credit_notes,
    employees,
    fleets,
    health,
    line_items,
    payroll_exports,
    reassignments,
    statements,
    summary,
    tariffs,
    vehicles,
)
from billing.api.security import install as install_security_headers
from billing.config import Settings
from billing.crypto import TokenCipher
from billing.db.embedded import resolve_dsn
from billing.db.migrations import require_head
from billing.db.pool import connection, create_pool
from billing.db.vehicles import check_secret_key
from billing.documents.pdf import pdf_process_pool
from billing.domain.apikeys import FailureLimiter
from billing.smartcar.client import SmartcarClient

ROUTE_GROUPS = [
    health.routes,
    fleets.routes,
    employees.routes,
    vehicles.routes,
    tariffs.routes,
    corrections.routes,
    audit.routes,
    line_items.routes,
    changes.routes,
    summary.routes,
    connect.routes,
    assets.routes,
    api_keys.routes,
    reassignments.routes,
    statements.routes,
    credit_notes.routes,
    payroll_exports.routes,
]


async def _smartcar(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[SMARTCAR] = SmartcarClient.from_settings(session, app[SETTINGS])
        yield


async def _pdf_executor(app: web.Application) -> AsyncIterator[None]:
    executor = pdf_process_pool(2)  # workers start on the first PDF, not with the server
    app[PDF_EXECUTOR] = executor
    yield
    executor.shutdown(wait=True, cancel_futures=True)


async def _database(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await create_pool(await resolve_dsn(app[SETTINGS]))
    try:
        async with connection(app[POOL]) as conn:
            await require_head(conn)
            await check_secret_key(conn, app[CIPHER])
    except BaseException:
        await app[POOL].close()
        raise
    yield
    await app[POOL].close()


def create_api(settings: Settings) -> web.Application:
    if settings.secret_key is None:
        raise ValueError("BILLING_SECRET_KEY is required to serve the API")
    metrics = HttpMetrics()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            request_id_middleware,
            metrics.middleware(),
            problem_middleware,
        ],
    )
    operations = add_routes(app, ROUTE_GROUPS)
    public = {op.path for op in operations if op.public}
    protected = frozenset(op.path for op in operations if op.path not in public)
    limiter = FailureLimiter(limit=settings.auth_failures_per_minute, window_s=60)
    app.middlewares.append(auth_middleware(protected, limiter))
    # after authentication: keys are stored per API key
    app.middlewares.append(idempotency_middleware())
    install_security_headers(app)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[CIPHER] = TokenCipher(settings.secret_key.get_secret_value())
    app[OPENAPI] = build_document(operations, version=version("fleet-billing"))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_smartcar)
    app.cleanup_ctx.append(_pdf_executor)
    return app
