"""Prometheus metrics, one registry per application (no module-level state)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from billing.observability import new_request_id, request_context

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class HttpMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "billing_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "billing_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.feed_held_back_seconds = Gauge(
            "billing_change_feed_held_back_seconds",
            "Age of the oldest running transaction on the database server (any database), which"
            " the change feed waits for before handing out later changes; NaN if unknown",
            registry=self.registry,
        )
        self.feed_held_back_xids = Gauge(
            "billing_change_feed_held_back_xids",
            "Transaction ids the change feed's horizon trails the server's next one",
            registry=self.registry,
        )

    def observe_feed(self, age_s: float | None, xids: int | None) -> None:
        """Set the feed gauges from a reading; None for a figure that could not be read."""
        self.feed_held_back_seconds.set(math.nan if age_s is None else age_s)
        self.feed_held_back_xids.set(math.nan if xids is None else xids)

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            started = time.perf_counter()
            response = await handler(request)
            self.latency.labels(request.method, route).observe(time.perf_counter() - started)
            self.requests.labels(request.method, route, str(response.status)).inc()
            return response

        return measure


REQUEST_ID_HEADER = "X-Request-Id"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request runs under an id (the caller's X-Request-Id, or a new one): its log
    lines and audit events carry it, and the response names it."""
    with request_context(new_request_id(request.headers.get(REQUEST_ID_HEADER))) as rid:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[REQUEST_ID_HEADER] = rid
            raise
        response.headers[REQUEST_ID_HEADER] = rid
        return response
