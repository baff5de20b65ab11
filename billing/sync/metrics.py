"""The worker's Prometheus metrics and its own small HTTP server (/healthz, /metrics).

Counters are fed as work happens (sync outcomes, Smartcar calls); the gauges that describe
the whole fleet (vehicles by sync state, days at risk, statements by status, the shared
budget's tokens) are read from PostgreSQL when scraped, so every worker reports the same
fleet-wide figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import get_args

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from billing.db.metrics import fleet_gauges
from billing.db.pool import connection
from billing.domain.models import SyncState
from billing.domain.planner import SAFETY_MARGIN_DAYS
from billing.domain.statements import StatementStatus
from billing.runtime import serving
from billing.sync.outcomes import SyncResult
from billing.sync.vehicle import SyncContext


class SyncMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "billing_sync_outcomes",
            "Vehicle reads by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.smartcar_calls = Counter(
            "billing_smartcar_calls",
            "Smartcar calls by endpoint and HTTP status (or timeout/network)",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.budget_tokens = Gauge(
            "billing_smartcar_budget_tokens",
            "Whole calls the shared Smartcar bucket holds now (0 while paused)",
            registry=self.registry,
        )
        self.vehicles = Gauge(
            "billing_vehicles",
            "Vehicles by sync state",
            ["sync_state"],
            registry=self.registry,
        )
        self.days_at_risk = Gauge(
            "billing_days_at_risk",
            f"Unread days that leave the 30-day window within {SAFETY_MARGIN_DAYS} days",
            registry=self.registry,
        )
        self.vehicles_at_risk = Gauge(
            "billing_vehicles_at_risk",
            f"Vehicles with unread days leaving the window within {SAFETY_MARGIN_DAYS} days",
            registry=self.registry,
        )

        self.statements = Gauge(
            "billing_statements",
            "Statements by status (draft, finalized, void)",
            ["status"],
            registry=self.registry,
        )

    def attach(self, ctx: SyncContext) -> None:
        """Count every Smartcar call the context's client makes."""
        ctx.client.on_call = lambda endpoint, status: self.smartcar_calls.labels(
            endpoint, status
        ).inc()

    def outcome(self, result: SyncResult) -> None:
        self.outcomes.labels(result.outcome).inc()

    async def refresh(self, ctx: SyncContext) -> None:
        """Read the fleet-wide gauges from the database."""
        async with connection(ctx.pool) as conn:
            self.budget_tokens.set(await ctx.bucket.whole(conn))
            gauges = await fleet_gauges(conn, ctx.clock(), SAFETY_MARGIN_DAYS)
        for state in get_args(SyncState):
            self.vehicles.labels(state).set(gauges.vehicles_by_state.get(state, 0))
        self.days_at_risk.set(gauges.days_at_risk)
        self.vehicles_at_risk.set(gauges.vehicles_at_risk)
        for status in get_args(StatementStatus):
            self.statements.labels(status).set(gauges.statements_by_status.get(status, 0))


def status_app(ctx: SyncContext, metrics: SyncMetrics) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "worker": ctx.worker})

    async def scrape(_request: web.Request) -> web.Response:
        await metrics.refresh(ctx)
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    return app


@asynccontextmanager
async def worker_status(
    ctx: SyncContext, metrics: SyncMetrics, host: str, port: int | None
) -> AsyncIterator[str | None]:
    """Serve /healthz and /metrics on host:port while the worker runs (nothing when None)."""
    if port is None:
        yield None
        return
    async with serving(status_app(ctx, metrics), host, port, variable="BILLING_WORKER_PORT") as url:
        yield url
