"""Runs the Alembic migrations in `migrations/` against a DSN."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from billing.db.pool import Connection

_PACKAGE = Path(__file__).resolve().parent.parent


def _script_location() -> Path:
    # A source checkout keeps migrations beside the package; a wheel carries them inside it.
    for candidate in (_PACKAGE.parent / "migrations", _PACKAGE / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the migrations directory is missing from this installation")


def alembic_config(dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    config.attributes["dsn"] = dsn
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def upgrade(dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(dsn), revision)


def downgrade(dsn: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(dsn), revision)


async def upgrade_async(dsn: str) -> None:
    """Upgrade from async code (Alembic's async env runs its own event loop, so use a thread)."""
    await asyncio.to_thread(upgrade, dsn)


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script inside the current migration's transaction.

    asyncpg's prepared statements take one command each; its simple-query path takes a script.
    """
    from alembic import op
    from sqlalchemy.util import await_only

    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    await_only(driver.execute(sql))


async def current_revision(conn: Connection) -> str | None:
    """The schema's revision; None for a database never migrated."""
    import asyncpg

    from billing.db.queries import queries

    try:
        revision: str | None = await conn.fetchval(queries("server").schema_revision)
    except asyncpg.UndefinedTableError:
        return None
    return revision


async def require_head(conn: Connection) -> None:
    """Raise DatabaseUnavailable, saying to run `billing migrate`, unless the schema is at head."""
    from billing.db.server import VARIABLE, DatabaseUnavailable

    current = await current_revision(conn)
    expected = head_revision()
    if current != expected:
        raise DatabaseUnavailable(
            f"{VARIABLE}: the database schema is at revision {current or 'none (empty)'},"
            f" this version needs {expected}; run `billing migrate` first"
        )
