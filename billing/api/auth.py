"""Bearer API keys: every route but the public ones needs one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from billing.api.keys import POOL, PRINCIPAL
from billing.db import apikeys
from billing.domain.errors import Unauthenticated

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(public_paths: frozenset[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else None
        if canonical is None or canonical in public_paths:
            return await handler(request)  # unknown routes get their 404/405 unauthenticated
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated()
        if not (key.isascii() and key.strip().isprintable()):
            # keys are ASCII; other bytes arrive as surrogates that cannot even be hashed
            raise Unauthenticated("the API key is not valid")
        async with request.app[POOL].acquire() as conn:
            request[PRINCIPAL] = await apikeys.authenticate(conn, key.strip())
        return await handler(request)

    return authenticate
