"""Connecting to PostgreSQL: one way for every command, and failures an operator can act on."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from billing.db.dsn import connect_arguments, database_name

VARIABLE = "BILLING_DATABASE_URL"


class DatabaseUnavailable(Exception):
    """The database cannot be used; the message is one line saying what to do."""

    @property
    def message(self) -> str:
        return str(self.args[0])


def _where(dsn: str) -> str:
    """The server a URL names, as libpq reads it: `host=` and `port=` parameters override the
    URL's authority, and a host starting with `/` is a socket directory."""
    parts = urlsplit(dsn)
    params = parse_qs(parts.query)
    host = params.get("host", [parts.hostname or "localhost"])[-1]
    port = params.get("port", [str(parts.port or 5432)])[-1]
    return f"{host} (port {port})" if host.startswith("/") else f"{host}:{port}"


def explain(exc: BaseException, dsn: str) -> DatabaseUnavailable | None:
    """The one-line explanation of a connection failure, or None when it is not one."""
    where, name = _where(dsn), database_name(dsn)
    user = urlsplit(dsn).username or "the default user"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseUnavailable(
            f'{VARIABLE}: database "{name}" does not exist on {where}; create it'
            f" (createdb {name}) or fix the database name in the URL"
        )
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return DatabaseUnavailable(
            f"{VARIABLE}: {where} refused user {user} ({exc}); fix the user or password in the URL"
        )
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return DatabaseUnavailable(
            f"{VARIABLE}: the server at {where} is not accepting connections yet ({exc});"
            " wait for it to start and try again"
        )
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(
            f"{VARIABLE}: cannot resolve the host of {where} ({exc.strerror}); fix the host"
        )
    if isinstance(exc, OSError | asyncio.TimeoutError):
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return DatabaseUnavailable(
            f"{VARIABLE}: cannot reach PostgreSQL at {where} ({reason}); check that the server"
            " is running and the URL's host and port are right"
        )
    if isinstance(exc, ValueError):  # a URL parameter asyncpg cannot use
        return DatabaseUnavailable(f"{VARIABLE}: {exc}")
    return None


async def connect(dsn: str, **extra: Any) -> asyncpg.Connection[asyncpg.Record]:
    """A single connection, with the URL's libpq parameters honoured."""
    target, kwargs = _arguments(dsn)
    try:
        return await asyncpg.connect(target, **kwargs, **extra)
    except Exception as exc:
        explained = explain(exc, dsn)
        if explained is None:
            raise
        raise explained from None


def _arguments(dsn: str) -> tuple[str, dict[str, Any]]:
    try:
        return connect_arguments(dsn)
    except ValueError as exc:
        raise DatabaseUnavailable(f"{VARIABLE}: {exc}") from None
