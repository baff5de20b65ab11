"""Alembic environment: async engine on asyncpg, DSN from billing's Settings, never alembic.ini."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from billing.db.dsn import sqlalchemy_url


def _dsn() -> str:
    # `billing migrate` and the tests hand the DSN over in the config's attributes; a bare
    # `alembic upgrade head` resolves it from Settings (starting the embedded server if unset).
    dsn = context.config.attributes.get("dsn")
    if isinstance(dsn, str):
        return dsn
    from billing.config import load_settings
    from billing.db.embedded import resolve_dsn

    return asyncio.run(resolve_dsn(load_settings()))


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(sqlalchemy_url(_dsn()), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=sqlalchemy_url(_dsn()), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
