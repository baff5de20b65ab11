"""Test databases: one migrated template per run, a fresh clone for every test.

With BILLING_TEST_DATABASE_URL set, databases are made on that server; otherwise on an
embedded server started for the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from billing.app import create_app
from billing.config import Settings, load_settings
from billing.crypto import new_key
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.db.pool import Pool, create_pool
from tests.factories import Factory

SECRET_KEY = new_key()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    configured = os.environ.get("BILLING_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    from billing.db.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="billing-test-") as tmp:
        server = EmbeddedServer(Path(tmp))
        try:
            yield server.dsn("postgres")
        finally:
            server.stop()


@pytest.fixture(scope="session")
def template_db(server_dsn: str) -> Iterator[str]:
    name = f"billing_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(server_dsn, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(with_database(server_dsn, name))
        yield name
    finally:
        asyncio.run(_admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_dsn(server_dsn: str, template_db: str) -> AsyncIterator[str]:
    name = f"billing_t_{uuid.uuid4().hex[:12]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_dsn, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def settings(db_dsn: str) -> Settings:
    return load_settings(database_url=db_dsn, secret_key=SECRET_KEY, log_format="json")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


@pytest.fixture
def factory(pool: Pool) -> Factory:
    return Factory(pool)
