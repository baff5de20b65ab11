"""Smartcar Connect onboarding: employees connect their cars themselves."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from billing.api.cookies import bind_browser
from billing.api.keys import CIPHER, SETTINGS, SMARTCAR
from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.services.connect import (
    BIND_COOKIE,
    ConnectOutcome,
    finish_connect,
    new_binding,
    start_connect,
)

routes = Routes()


class ConnectStartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: UUID


class ConnectCallbackQuery(BaseModel):
    # Smartcar may add parameters of its own to the redirect (`error_description` among
    # them: free text that is never shown); they are not ours to refuse. The bounds keep the
    # whole address within what the server reads in one line.
    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=512, pattern=r"^[\x21-\x7e]*$")
    state: str | None = Field(default=None, max_length=1024, pattern=r"^[A-Za-z0-9_\-.=]*$")
    error: str | None = Field(default=None, max_length=200)


def _page(outcome: ConnectOutcome) -> web.Response:
    rows = "".join(f"<li>{html.escape(item)}</li>" for item in outcome.lines)
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(outcome.title)}</title><meta name="viewport" content="width=device-width">
<link rel="stylesheet" href="/static/app.css"></head><body><main id="main">
<h1>{html.escape(outcome.title)}</h1><p>{html.escape(outcome.message)}</p>
{f"<ul>{rows}</ul>" if rows else ""}<p><a href="/app">Back to the app</a></p>
</main></body></html>"""
    return web.Response(text=body, status=outcome.status, content_type="text/html")


@routes.route(
    "GET",
    "/v1/connect/start",
    summary="Send the employee to Smartcar Connect (finish it in the same browser)",
    tag="connect",
    query=ConnectStartQuery,
    status=302,
    raw_response="text/html",
    errors=(403, 409),
)
async def connect_start(request: web.Request, query: ConnectStartQuery) -> web.Response:
    binding = new_binding()
    target = await start_connect(
        pool(request),
        request.app[SETTINGS],
        principal(request),
        query.employee_id,
        binding=binding,
        now=datetime.now(UTC),
    )
    redirect = web.HTTPFound(target)
    bind_browser(redirect, request, binding)
    raise redirect


@routes.route(
    "GET",
    "/v1/connect/callback",
    summary="Where Smartcar Connect sends the employee back",
    tag="connect",
    query=ConnectCallbackQuery,
    public=True,
    raw_response="text/html",
    errors=(503,),
    html_errors=(400, 502),
)
async def connect_callback(request: web.Request, query: ConnectCallbackQuery) -> web.Response:
    outcome = await finish_connect(
        pool(request),
        request.app[CIPHER],
        request.app[SMARTCAR],
        request.app[SETTINGS],
        state=query.state,
        code=query.code,
        error=query.error,
        binding=request.cookies.get(BIND_COOKIE),
        now=datetime.now(UTC),
    )
    return _page(outcome)
