"""Signing in with an API key: the key is exchanged for a server-side session.

The browser holds only a random session id in an HttpOnly, SameSite cookie; the database
holds its SHA-256. A session ends when it is idle too long, at its absolute expiry, on sign
out, or when its key is revoked. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aiohttp import web
from yarl import URL

from billing.api.cookies import set_cookie
from billing.api.keys import POOL, PRINCIPAL, SETTINGS
from billing.api.problems import retry_after
from billing.db import apikeys, web_sessions
from billing.db.errors import DRIVER_ERRORS, domain_error
from billing.db.pool import connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DatabaseFailure,
    DomainError,
    Forbidden,
    InvalidData,
    NotFound,
    Retryable,
    Unauthenticated,
)
from billing.web.keys import SESSION, SESSION_ID
from billing.web.render import harden, render

COOKIE = "fb_session"
LOGIN_COOKIE = "fb_login"
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
MAX_KEY_LENGTH = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()
log = logging.getLogger(__name__)


def who(request: web.Request) -> Principal:
    """The signed-in person, or a redirect to the sign-in page."""
    session: web_sessions.Session | None = request.get(SESSION)
    if session is None:
        raise Unauthenticated("please sign in")
    return session.principal


def path_id(request: web.Request) -> UUID:
    """The page's `{id}`; anything that is not an id is a page that does not exist."""
    try:
        return UUID(request.match_info["id"])
    except ValueError:
        raise NotFound() from None


def staff(request: web.Request) -> Principal:
    """The signed-in manager, HR person or admin; employees get 403."""
    me = who(request)
    if me.role == "employee":
        raise Forbidden("this page is for fleet managers and HR")
    return me


async def _attach_session(request: web.Request) -> None:
    session_id = request.cookies.get(COOKIE)
    if not session_id or len(session_id) > 100:
        return
    async with connection(request.app[POOL]) as conn:
        session = await web_sessions.find_session(
            conn, session_id, now=datetime.now(UTC), idle=IDLE
        )
    if session is not None:
        request[SESSION] = session
        request[SESSION_ID] = session_id
        request[PRINCIPAL] = session.principal


async def _check_csrf(request: web.Request) -> None:
    form = await request.post()
    sent = form.get("csrf_token")
    if request.path == "/login":
        expected = request.cookies.get(LOGIN_COOKIE)
    else:
        session = request.get(SESSION)
        expected = session.csrf_token if session is not None else None
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("this form has expired; reload the page and try again")


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


_PAGE_ERRORS: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Not allowed"),
    (Conflict, 409, "Conflict"),
    (InvalidData, 422, "Not accepted"),
    (ConcurrentUpdate, 409, "Changed at the same moment"),
    (Retryable, 503, "Busy for a moment"),
    (DatabaseFailure, 500, "Something went wrong"),
]
_AGAIN = {
    ConcurrentUpdate: "Someone changed the same data at the same moment, so nothing was saved. "
    "Go back and send it again.",
    Retryable: "The service is busy or cannot reach its database right now, so nothing was "
    "saved. Reload the page in a few seconds.",
}


def _status_of(exc: DomainError) -> tuple[int, str]:
    for kind, status, title in _PAGE_ERRORS:
        if isinstance(exc, kind):
            return status, title
    return 400, "Not accepted"


def _domain_error_page(request: web.Request, exc: DomainError) -> web.Response:
    status, title = _status_of(exc)
    message = exc.message
    if status == 404:  # the same words for missing and not-yours: existence is not revealed
        message = "There is no such page, or it is not yours to see."
    if isinstance(exc, Retryable):
        kind = ConcurrentUpdate if isinstance(exc, ConcurrentUpdate) else Retryable
        page = error_page(request, status, title, _AGAIN[kind])
        page.headers["Retry-After"] = retry_after(exc.retry_after_s)
        return page
    return error_page(request, status, title, message)


def _is_page(path: str) -> bool:
    return path in ("/", "/login", "/logout", "/app") or path.startswith(("/app/", "/static/"))


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, CSRF, HTML error pages and security headers for every page."""
    if not _is_page(request.path):
        return await handler(request)
    static = request.path.startswith("/static/")
    response: web.StreamResponse
    try:
        if not static:
            await _attach_session(request)
            if request.method == "POST":
                await _check_csrf(request)
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            harden(exc)
            raise
        detail = "There is no such page." if exc.status == 404 else exc.reason
        response = error_page(request, exc.status, exc.reason, detail)
    except Unauthenticated:
        target = "/login" if request.method != "GET" else f"/login?next={request.path_qs}"
        redirect = web.HTTPSeeOther(target)
        harden(redirect)
        raise redirect from None
    except DomainError as exc:
        response = _domain_error_page(request, exc)
    except DRIVER_ERRORS as exc:
        response = _domain_error_page(request, domain_error(exc))
    except Exception:
        log.exception("unhandled error on page %s %s", request.method, request.path)
        response = error_page(
            request, 500, "Something went wrong", "The error was logged. Try again later."
        )
    harden(response, personal=not static, form_origins=(_connect_origin(request),))
    if static:
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _connect_origin(request: web.Request) -> str:
    """Where "Connect my car" redirects to: the one other origin a form may lead to."""
    url = URL(str(request.app[SETTINGS].smartcar_connect_url))
    return str(url.origin())


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/app") and "//" not in value and "\\" not in value:
        return value
    return "/app"


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/app" if request.get(SESSION) is not None else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_form(request, status=200, error=None)


def _login_form(request: web.Request, *, status: int, error: str | None) -> web.Response:
    token = secrets.token_urlsafe(32)
    next_ = _safe_next(request.query.get("next"))
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_, "error": error},
        status=status,
    )
    set_cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    key = form.get("api_key")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        return _login_form(request, status=400, error="Enter your API key.")
    pool = request.app[POOL]
    try:
        async with transaction(pool) as conn:
            principal = await apikeys.authenticate(conn, key.strip())
            session_id = await web_sessions.create_session(
                conn, principal.key_id, now=datetime.now(UTC), lifetime=LIFETIME
            )
    except Unauthenticated:
        return _login_form(
            request, status=401, error="This key is not valid. Check it, or ask your admin."
        )
    next_ = form.get("next")
    response = web.HTTPSeeOther(_safe_next(next_ if isinstance(next_, str) else None))
    set_cookie(response, request, COOKIE, session_id, max_age=int(LIFETIME.total_seconds()))
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    session_id = request.get(SESSION_ID)
    if session_id is not None:
        async with transaction(request.app[POOL]) as conn:
            await web_sessions.revoke_session(conn, session_id, now=datetime.now(UTC))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
