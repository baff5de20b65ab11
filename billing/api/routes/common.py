"""Small helpers the route modules share."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from billing.api.keys import POOL
from billing.db.pool import Pool
from billing.domain.errors import NotFound


def path_id(request: web.Request, name: str = "id") -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"{request.match_info[name]!r} is not an id of this service") from None


def pool(request: web.Request) -> Pool:
    return request.app[POOL]
