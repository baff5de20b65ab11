"""What every `billing` command shares: settings from the environment, running a coroutine
with errors as one line, and a pool on a database whose schema is at head."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from billing.config import ConfigError, Settings, load_settings, unknown_variables
from billing.db.embedded import EmbeddedMissing, resolve_dsn, stop_embedded_servers
from billing.db.errors import DRIVER_ERRORS, domain_error
from billing.db.migrations import require_head
from billing.db.pool import Pool, connection, create_pool
from billing.db.server import DatabaseUnavailable
from billing.domain.errors import DomainError
from billing.observability import configure_logging

T = TypeVar("T")


def command_settings(**overrides: object) -> Settings:
    for warning in unknown_variables():
        click.echo(warning, err=True)
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_format)
    return settings


def run_command(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; stop the embedded server (if this process started it) afterwards."""
    try:
        return asyncio.run(main())
    except (DomainError, DatabaseUnavailable, EmbeddedMissing) as exc:
        raise click.ClickException(exc.message) from None
    except DRIVER_ERRORS as exc:  # logged with its SQLSTATE; one line for the operator
        raise click.ClickException(domain_error(exc).message) from None
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stop_embedded_servers()


async def open_pool(settings: Settings, *, max_size: int) -> Pool:
    """A pool on the configured database, whose schema must be at head."""
    pool = await create_pool(await resolve_dsn(settings), min_size=1, max_size=max_size)
    try:
        async with connection(pool) as conn:
            await require_head(conn)
    except BaseException:
        await pool.close()
        raise
    return pool
