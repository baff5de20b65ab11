"""Bearer API keys: every route but the public ones needs one."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from billing.api.keys import POOL, PRINCIPAL
from billing.api.problems import TooManyRequests
from billing.db import apikeys
from billing.db.pool import connection
from billing.domain.apikeys import FailureLimiter
from billing.domain.errors import Unauthenticated

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(
    protected_paths: frozenset[str], limiter: FailureLimiter | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Authenticate every API operation that is not public (the web pages sign in with a
    session of their own).

    Failed authentications are counted per source address in this process; past the limit
    an address gets 429 with Retry-After before any database lookup, so a loop guessing
    keys costs the database nothing.
    """
    failures = limiter or FailureLimiter()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else None
        if canonical not in protected_paths:
            return await handler(request)  # unknown routes get their 404/405 unauthenticated
        source = request.remote or "unknown"
        now = time.monotonic()
        wait = failures.retry_after(source, now)
        if wait is not None:
            raise TooManyRequests("too many failed authentications from this address", wait)
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated()  # no key at all: nothing to look up, nothing to count
        try:
            if not (key.isascii() and key.strip().isprintable()):
                # keys are ASCII; other bytes arrive as surrogates that cannot even be hashed
                raise Unauthenticated("the API key is not valid")
            async with connection(request.app[POOL]) as conn:
                request[PRINCIPAL] = await apikeys.authenticate(conn, key.strip())
        except Unauthenticated:
            failures.failed(source, now)
            raise
        return await handler(request)

    return authenticate
