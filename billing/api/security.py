"""Headers every response carries, whatever produced it (a route, an error, a replay).

Pages get a Content-Security-Policy that allows this origin's scripts and styles only (no
inline script), and nothing may frame any response. Nothing is cached except the static
assets: answers name employees, amounts and tokens' owners. The `Server` header names the
product without a version.
"""

from __future__ import annotations

from aiohttp import web, web_response

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
SERVER = "fleet-billing"


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    headers = response.headers
    html = (response.content_type or "").startswith("text/html")
    # the web pages set their own policy (their forms post here and may lead on to Connect)
    headers.setdefault("Content-Security-Policy", PAGE_CSP if html else DATA_CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cache-Control", "no-store")
    headers["Server"] = SERVER


def install(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
    # aiohttp answers a malformed request itself, before any application code (and so this
    # signal) runs, naming itself and its version; it reads this constant for every answer.
    vars(web_response)["SERVER_SOFTWARE"] = SERVER
