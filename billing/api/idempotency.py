"""`Idempotency-Key` on mutating requests: the same key and request replay the first response.

Per API key, a request carrying the header first claims the key in its own committed row
(so a concurrent duplicate sees it in flight and gets 409), then runs. A 2xx or 4xx response
is stored and replayed for later requests with the same key, method, path and body; a key
reused for a different request gets 422. A 5xx, an answer that says to retry (`Retry-After`:
a lost race, a busy database), or a crash releases the key (a crash by letting its short
lease run out) so the client can simply send the same request again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from uuid import UUID

from aiohttp import payload, web

from billing.api.keys import POOL, PRINCIPAL
from billing.api.problems import RequestValidationFailed, problem, problem_middleware
from billing.db import idempotency
from billing.db.pool import Pool, connection

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# One request in this many also purges a batch of expired keys, so a deployment without a
# worker still sheds them.
PURGE_ONE_IN = 100
PURGE_BATCH = 200

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _checked_key(raw: str) -> str:
    problem_text = None
    if not raw:
        problem_text = "must not be empty"
    elif len(raw) > MAX_KEY_LENGTH:
        problem_text = f"must be at most {MAX_KEY_LENGTH} characters"
    elif not raw.isprintable():
        # also catches bytes that were not UTF-8: they arrive as (unprintable) surrogates
        problem_text = "must consist of printable UTF-8 characters"
    if problem_text is not None:
        raise RequestValidationFailed([{"field": f"header.{HEADER}", "message": problem_text}])
    return raw


def _replayed(stored: idempotency.Replay) -> web.Response:
    response = web.Response(status=stored.status, body=stored.body)
    if stored.content_type is not None:
        response.headers["Content-Type"] = stored.content_type
    response.headers["Idempotent-Replayed"] = "true"
    return response


async def _storable(response: web.StreamResponse) -> bytes | None:
    """The body of a final response worth replaying; None for 5xx, redirects, streams and
    answers that ask for a retry (their `Retry-After` says the same request may succeed)."""
    if not isinstance(response, web.Response) or not 200 <= response.status < 500:
        return None
    if 300 <= response.status < 400 or "Retry-After" in response.headers:
        return None
    body = response.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, payload.BytesPayload):  # text and str bodies (the registry's render)
        return await body.as_bytes()
    return None


async def _purge_now_and_then(pool: Pool) -> None:
    if random.randrange(PURGE_ONE_IN) == 0:
        async with connection(pool) as conn:
            await idempotency.purge_expired(conn, batch=PURGE_BATCH, rounds=1)


def idempotency_middleware() -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def idempotent(request: web.Request, handler: Handler) -> web.StreamResponse:
        raw_key = request.headers.get(HEADER)
        who = request.get(PRINCIPAL)
        if raw_key is None or who is None or request.method not in MUTATING:
            return await handler(request)
        key = _checked_key(raw_key)
        body = await request.read()
        digest = idempotency.request_hash(request.method, request.raw_path, body)
        pool = request.app[POOL]
        async with connection(pool) as conn:
            outcome = await idempotency.claim(
                conn,
                api_key_id=who.key_id,
                key=key,
                method=request.method,
                path=request.raw_path,
                digest=digest,
            )
        match outcome:
            case idempotency.Replay():
                return _replayed(outcome)
            case idempotency.InFlight():
                busy = problem(
                    409,
                    "Conflict",
                    f"a request with this {HEADER} is still being processed; retry shortly",
                )
                busy.headers["Retry-After"] = "1"
                return busy
            case idempotency.Mismatch():
                return problem(
                    422,
                    "Idempotency key reused",
                    f"this {HEADER} was already used for a different request "
                    "(method, path or body differ); use a new key for a new request",
                )
            case idempotency.Claimed():
                pass
        try:
            # Render errors here, inside the claim, so 4xx problems are stored like successes.
            response = await problem_middleware(request, handler)
        except BaseException:
            await asyncio.shield(_release(pool, who.key_id, key, outcome.claim))
            raise
        try:
            await _settle(pool, who.key_id, key, outcome.claim, response)
            await _purge_now_and_then(pool)
        except Exception:
            # The request itself succeeded; the key just falls back to its lease.
            log.exception("could not record the response for an %s", HEADER)
        return response

    return idempotent


async def _release(pool: Pool, api_key_id: UUID, key: str, claim: UUID) -> None:
    async with connection(pool) as conn:
        await idempotency.release(conn, api_key_id=api_key_id, key=key, claim=claim)


async def _settle(
    pool: Pool, api_key_id: UUID, key: str, claim: UUID, response: web.StreamResponse
) -> None:
    """Store a final response for replay, or release the key for a retry."""
    body = await _storable(response)
    if body is None:
        await _release(pool, api_key_id, key, claim)
        return
    async with connection(pool) as conn:
        await idempotency.finish(
            conn,
            api_key_id=api_key_id,
            key=key,
            claim=claim,
            status=response.status,
            body=body,
            content_type=response.headers.get("Content-Type"),
        )
