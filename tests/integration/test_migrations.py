"""Migrations: up, down to base and up again; the currency table matches the domain's."""

from __future__ import annotations

import uuid

import asyncpg

from billing.db.dsn import with_database
from billing.db.migrations import downgrade, head_revision, upgrade
from billing.domain.currencies import MINOR_UNITS
from tests.conftest import _admin


async def _tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(server_dsn: str) -> None:
    name = f"billing_mig_{uuid.uuid4().hex[:8]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_database(server_dsn, name)
    try:
        import asyncio

        await asyncio.to_thread(upgrade, dsn)
        assert {
            "fleets",
            "employees",
            "vehicles",
            "tariffs",
            "charge_records",
            "line_items",
            "audit_events",
            "api_keys",
            "smartcar_connections",
        } <= await _tables(dsn)
        await asyncio.to_thread(downgrade, dsn, "base")
        assert await _tables(dsn) <= {"alembic_version"}
        await asyncio.to_thread(upgrade, dsn)
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
        finally:
            await conn.close()
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_currency_table_matches_domain(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch("SELECT code, minor_unit FROM currencies")
    finally:
        await conn.close()
    assert {row["code"]: row["minor_unit"] for row in rows} == dict(MINOR_UNITS)
