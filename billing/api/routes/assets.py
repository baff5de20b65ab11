"""The static files the web pages load: no page carries inline script or style, so the
Content-Security-Policy can forbid both."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from billing.api.registry import Routes

routes = Routes()
ASSETS = resources.files("billing.api").joinpath("assets")


def _asset(name: str, content_type: str) -> web.Response:
    response = web.Response(text=ASSETS.joinpath(name).read_text(), content_type=content_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@routes.route(
    "GET",
    "/assets/docs.js",
    summary="Script of the API documentation page",
    tag="operations",
    public=True,
    raw_response="text/javascript",
)
async def docs_script(request: web.Request) -> web.Response:
    return _asset("docs.js", "text/javascript")


@routes.route(
    "GET",
    "/assets/docs.css",
    summary="Style of the API documentation page",
    tag="operations",
    public=True,
    raw_response="text/css",
)
async def docs_style(request: web.Request) -> web.Response:
    return _asset("docs.css", "text/css")


@routes.route(
    "GET",
    "/assets/page.css",
    summary="Style of the Connect pages",
    tag="operations",
    public=True,
    raw_response="text/css",
)
async def page_style(request: web.Request) -> web.Response:
    return _asset("page.css", "text/css")
