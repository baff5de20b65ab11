"""Wiring the pages into the application: templates, routes, static files, middleware."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from billing.web import people, queue, session, statements, tariffs
from billing.web.render import setup_templates

STATIC = Path(__file__).with_name("static")
ROUTE_TABLES = (
    session.routes,
    queue.routes,
    people.routes,
    tariffs.routes,
    statements.routes,
)
middleware = session.pages_middleware


def setup_pages(app: web.Application) -> frozenset[str]:
    """Add the pages (their own sign-in, errors and headers); returns their paths."""
    setup_templates(app)
    app.middlewares.append(middleware)
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    app.router.add_static("/static", STATIC, append_version=False)
    paths = {resource.canonical for resource in app.router.resources()}
    return frozenset(
        p for p in paths if p == "/" or p.startswith(("/app", "/login", "/logout", "/static"))
    )
