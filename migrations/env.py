"""Alembic environment: asyncpg through billing's own connect, DSN from billing's Settings.

`billing migrate` and the tests hand the DSN over in the config's attributes; a bare
`alembic upgrade head` from the repository root resolves it from Settings (starting the
embedded server when BILLING_DATABASE_URL is unset, and stopping it again afterwards).
Everything async happens inside one `asyncio.run`, so nothing nests an event loop.
"""

from __future__ import annotations

import asyncio
import sys

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from billing.db.dsn import sqlalchemy_url
from billing.db.server import DatabaseUnavailable, connect


async def _resolve_dsn() -> str:
    dsn = context.config.attributes.get("dsn")
    if isinstance(dsn, str):
        return dsn
    from billing.config import load_settings
    from billing.db.embedded import resolve_dsn

    return await resolve_dsn(load_settings())


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    from billing.db.embedded import stop_embedded_servers

    started_here = "dsn" not in context.config.attributes
    try:
        dsn = await _resolve_dsn()
        # Probe once, so a bad URL is one line rather than SQLAlchemy's wrapped traceback.
        probe = await connect(dsn)
        await probe.close()
        engine = create_async_engine(
            "postgresql+asyncpg://", async_creator=lambda: connect(dsn), poolclass=pool.NullPool
        )
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_run)
                await connection.commit()
        finally:
            await engine.dispose()
    finally:
        if started_here:
            stop_embedded_servers()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(url=sqlalchemy_url(asyncio.run(_resolve_dsn())), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    try:
        asyncio.run(_run_async())
    except DatabaseUnavailable as exc:
        if "dsn" in context.config.attributes:
            raise  # `billing migrate` reports it
        sys.exit(f"error: {exc.message}")


_main()
