"""Rendering pages: one Jinja2 environment, formatting filters, and the headers every page sends."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from billing.web.keys import SESSION

# No inline script or style anywhere: every script and stylesheet is a file under /static.
# Forms post to this server only, which may redirect on to Smartcar Connect.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'{forms}; base-uri 'none'; frame-ancestors 'none'"
)
# nosniff and X-Frame-Options come with every response (billing/api/security.py)
SECURITY_HEADERS = {"Referrer-Policy": "same-origin"}


def harden(
    response: web.StreamResponse, *, personal: bool = True, form_origins: tuple[str, ...] = ()
) -> None:
    """Security headers for an HTML page; pages with personal data are never cached."""
    forms = "".join(f" {origin}" for origin in form_origins)
    response.headers["Content-Security-Policy"] = CSP.format(forms=forms)
    response.headers.update(SECURITY_HEADERS)
    if personal:
        response.headers["Cache-Control"] = "no-store"


NONE = "\N{EN DASH}"


def _money(value: Decimal | None, currency: str = "") -> str:
    if value is None:
        return NONE
    return f"{value:,} {currency}".strip()


def _price(value: Decimal | None) -> str:
    """A unit price without padding zeros, but never fewer than two decimals."""
    if value is None:
        return NONE
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{value:.{places}f}"


def _kwh(value: Decimal | None) -> str:
    return NONE if value is None else f"{value.normalize():f} kWh"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z")
    return value.isoformat()


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("billing.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(money=_money, kwh=_kwh, when=_when, price=_price)


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    session = request.get(SESSION)
    page = {
        "who": session.principal if session is not None else None,
        "csrf": session.csrf_token if session is not None else None,
        "path": request.path,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, page, status=status)
