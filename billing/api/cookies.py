"""The cookies a browser holds: a web session id, and the binding of a Connect flow."""

from __future__ import annotations

from aiohttp import web

from billing.services.connect import BIND_COOKIE, BIND_PATH, STATE_TTL


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
) -> None:
    """HttpOnly and SameSite=Lax always; Secure whenever the request came over TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def bind_browser(response: web.StreamResponse, request: web.Request, binding: str) -> None:
    """The cookie that ties a Connect flow to the browser that started it."""
    set_cookie(
        response,
        request,
        BIND_COOKIE,
        binding,
        max_age=int(STATE_TTL.total_seconds()),
        path=BIND_PATH,
    )
