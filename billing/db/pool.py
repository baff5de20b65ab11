"""The asyncpg pool: codecs for jsonb, and the two ways out of it: `connection` for reads and
`transaction` for writes, both behind the driver-error boundary."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from uuid import UUID

import asyncpg

from billing.db.dsn import connect_arguments
from billing.db.errors import translate_errors
from billing.db.server import DatabaseUnavailable, explain
from billing.domain.errors import Unavailable

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # asyncpg's classes are generic only in its stubs
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool

log = logging.getLogger(__name__)


def _json_default(value: object) -> str:
    # Money and energy stay exact in jsonb: Decimals are written as strings.
    kind = type(value)  # the exact types first: this runs for every such value written
    if kind is Decimal:
        return str(value)
    if kind is datetime or kind is date:
        return cast("date", value).isoformat()
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | bytes):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


async def _init_connection(conn: Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=dumps, decoder=json.loads, format="text"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool on the URL (libpq parameters honoured); DatabaseUnavailable when it cannot be."""
    try:
        target, kwargs = connect_arguments(dsn)
    except ValueError as exc:
        raise DatabaseUnavailable(f"BILLING_DATABASE_URL: {exc}") from None
    try:
        pool = await asyncpg.create_pool(
            target,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            command_timeout=60,
            **kwargs,
        )
    except Exception as exc:
        explained = explain(exc, dsn)
        if explained is None:
            raise
        raise explained from None
    assert pool is not None
    return pool


async def _acquired(pool: Pool, wait_s: float | None) -> PoolConnectionProxy[asyncpg.Record]:
    try:
        return await pool.acquire(timeout=wait_s)
    except (OSError, TimeoutError) as exc:  # no connection to be had: refused, or none free
        log.warning("no database connection: %s", type(exc).__name__)
        raise Unavailable() from None


@asynccontextmanager
async def connection(pool: Pool, *, wait_s: float | None = None) -> AsyncIterator[Connection]:
    """A connection for reads (or writes that manage their own transactions); driver errors
    leave it as domain errors, and so does finding no connection (within `wait_s` seconds).
    Every use of the pool outside `billing.db` goes through this or `transaction`."""
    with translate_errors():
        conn = await _acquired(pool, wait_s)
        try:
            yield conn
        finally:
            await pool.release(conn)


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """A connection in a transaction; driver errors leave it as domain errors."""
    async with connection(pool) as conn, conn.transaction():
        yield conn
