"""The service as one aiohttp application: the JSON API and the web pages on top of it."""

from __future__ import annotations

from aiohttp import web

from billing.api.app import create_api
from billing.config import Settings
from billing.web.app import setup_pages


def create_app(settings: Settings) -> web.Application:
    """A fully wired application; tests, `billing serve` and `billing demo` all use it."""
    app = create_api(settings)
    setup_pages(app)
    return app
