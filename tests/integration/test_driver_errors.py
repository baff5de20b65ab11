"""The driver-error boundary on a real server: lost races and cancelled statements leave
`connection`/`transaction` as domain errors, and the API and the pages answer them as
retryable 409/503 (with Retry-After); any other database error a typed 500, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from billing.api.problems import problem_middleware
from billing.app import create_app
from billing.config import Settings
from billing.db.pool import Connection, Pool, connection, create_pool, transaction
from billing.domain.errors import ConcurrentUpdate, Unavailable
from billing.domain.models import Employee
from tests.factories import Factory
from tests.web.pages import sign_in

Client = TestClient[Any, Any]
PROBLEMS = "https://fleet-billing.dev/problems/"
PATIENCE_S = 60.0


@pytest.fixture
async def scratch(pool: Pool) -> Pool:
    """Two rows to fight over."""
    await pool.execute("CREATE TABLE scratch (id int PRIMARY KEY, n int NOT NULL)")
    await pool.execute("INSERT INTO scratch VALUES (1, 0), (2, 0)")
    return pool


async def _until(pool: Pool, sql: str, *args: object) -> None:
    """Wait (generously) until `sql` answers true."""
    async with asyncio.timeout(PATIENCE_S):
        while True:
            if await pool.fetchval(sql, *args):
                return
            await asyncio.sleep(0.02)


async def _someone_waits_for_a_lock(pool: Pool) -> None:
    await _until(
        pool,
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE NOT l.granted AND a.datname = current_database())",
    )


async def _set_for_database(pool: Pool, setting: str, value: str) -> None:
    """A setting every later connection to this (throwaway) database starts with."""
    name = await pool.fetchval("SELECT current_database()")
    await pool.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[Client]:
    """The application, started now: its connections pick up the database's settings."""
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


# -- the boundary itself -------------------------------------------------------------------


async def test_a_deadlock_between_two_transactions_is_a_concurrent_update(scratch: Pool) -> None:
    locked = {1: asyncio.Event(), 2: asyncio.Event()}

    async def cross(mine: int, theirs: int) -> None:
        async with transaction(scratch) as conn:
            await conn.execute("UPDATE scratch SET n = n + 1 WHERE id = $1", mine)
            locked[mine].set()
            await locked[theirs].wait()
            await conn.execute("UPDATE scratch SET n = n + 1 WHERE id = $1", theirs)

    async with asyncio.timeout(PATIENCE_S):
        outcomes = await asyncio.gather(cross(1, 2), cross(2, 1), return_exceptions=True)
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(lost) == 1, outcomes
    assert isinstance(lost[0], ConcurrentUpdate)
    assert lost[0].retry_after_s > 0
    # the winner's two updates stand, the loser's were rolled back
    assert await scratch.fetchval("SELECT array_agg(n ORDER BY id) FROM scratch") == [1, 1]


async def test_a_repeatable_read_conflict_is_a_concurrent_update(scratch: Pool) -> None:
    async def increment() -> None:
        async with transaction(scratch) as conn:
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            assert await conn.fetchval("SELECT n FROM scratch WHERE id = 1") == 0
            await scratch.execute("UPDATE scratch SET n = 10 WHERE id = 1")  # commits meanwhile
            await conn.execute("UPDATE scratch SET n = n + 1 WHERE id = 1")

    with pytest.raises(ConcurrentUpdate):
        await increment()
    assert await scratch.fetchval("SELECT n FROM scratch WHERE id = 1") == 10


async def test_a_serializable_write_skew_is_a_concurrent_update(scratch: Pool) -> None:
    async def begin(conn: Connection) -> int:
        await conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        total: int = await conn.fetchval("SELECT sum(n) FROM scratch")
        return total

    async def skew() -> None:
        async with transaction(scratch) as second:
            seen = await begin(second)
            async with transaction(scratch) as first:
                await first.execute("INSERT INTO scratch VALUES (3, $1)", await begin(first))
            # `first` committed after `second` read: `second` cannot write on what it saw
            await second.execute("INSERT INTO scratch VALUES (4, $1)", seen)

    with pytest.raises(ConcurrentUpdate):
        await skew()
    assert await scratch.fetchval("SELECT array_agg(id ORDER BY id) FROM scratch") == [1, 2, 3]


async def test_a_statement_cancelled_by_its_timeout_is_unavailable(pool: Pool) -> None:
    async def sleep() -> None:
        async with connection(pool) as conn:
            await conn.execute("SET statement_timeout = '10ms'")
            await conn.execute("SELECT pg_sleep(60)")

    with pytest.raises(Unavailable) as caught:
        await sleep()
    assert caught.value.retry_after_s == 5


async def test_a_lock_not_granted_in_time_is_unavailable(scratch: Pool) -> None:
    async def update() -> None:
        async with transaction(scratch) as conn:
            await conn.execute("SET LOCAL lock_timeout = '10ms'")
            await conn.execute("UPDATE scratch SET n = 5 WHERE id = 1")

    async with transaction(scratch) as holder:
        await holder.execute("SELECT * FROM scratch WHERE id = 1 FOR UPDATE")
        with pytest.raises(Unavailable):
            await update()
    assert await scratch.fetchval("SELECT n FROM scratch WHERE id = 1") == 0


async def test_no_free_connection_in_time_is_unavailable(db_dsn: str) -> None:
    single = await create_pool(db_dsn, min_size=1, max_size=1)
    try:
        async with connection(single):
            with pytest.raises(Unavailable):
                async with connection(single, wait_s=0.01):
                    pass
    finally:
        await single.close()


async def test_other_driver_errors_pass_the_boundary_as_they_are(pool: Pool) -> None:
    async def select() -> None:
        async with connection(pool) as conn:
            await conn.fetchval("SELECT * FROM no_such_table")

    # a caller may own them; the edges answer them (below)
    with pytest.raises(asyncpg.UndefinedTableError):
        await select()


# -- through the API -----------------------------------------------------------------------


async def _people(factory: Factory) -> tuple[Employee, dict[str, str]]:
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    return employee, factory.auth(await factory.key("manager", fleet))


async def _audited(pool: Pool, employee: Employee) -> int:
    found: int = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'update'",
        employee.id,
    )
    return found


async def _keys_kept(pool: Pool) -> int:
    found: int = await pool.fetchval("SELECT count(*) FROM idempotency_keys")
    return found


async def _expect_retry(response: Any, status: int, kind: str, retry_after: str) -> None:
    assert response.status == status
    assert response.headers["Retry-After"] == retry_after
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["type"] == PROBLEMS + kind
    assert body["status"] == status
    assert "again" in body["title"]
    assert "Traceback" not in await response.text()


async def test_a_lost_race_answers_409_and_the_same_request_then_succeeds(
    settings: Settings, factory: Factory, pool: Pool
) -> None:
    employee, auth = await _people(factory)
    await _set_for_database(pool, "default_transaction_isolation", "repeatable read")
    headers = {**auth, "Idempotency-Key": "rename-1"}
    url = f"/v1/employees/{employee.id}"
    async with _serving(settings) as client:

        async def rename() -> Any:
            return await client.patch(url, json={"name": "Renamed"}, headers=headers)

        async with transaction(pool) as other:
            await other.execute(
                "UPDATE employees SET updated_at = now() WHERE id = $1", employee.id
            )
            attempt = asyncio.create_task(rename())
            await _someone_waits_for_a_lock(pool)
        # `other` committed while the request waited for its row: its snapshot is stale
        async with asyncio.timeout(PATIENCE_S):
            lost = await attempt
        await _expect_retry(lost, 409, "concurrent-update", "1")
        assert await _audited(pool, employee) == 0
        assert await _keys_kept(pool) == 0  # the key is free for the retry

        again = await client.patch(url, json={"name": "Renamed"}, headers=headers)
        assert again.status == 200, await again.text()
        assert (await again.json())["name"] == "Renamed"
        replayed = await client.patch(url, json={"name": "Renamed"}, headers=headers)
        assert replayed.status == 200
        assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await _audited(pool, employee) == 1


async def test_a_write_cancelled_by_lock_timeout_answers_503_and_then_succeeds(
    settings: Settings, factory: Factory, pool: Pool
) -> None:
    employee, auth = await _people(factory)
    await _set_for_database(pool, "lock_timeout", "50ms")
    headers = {**auth, "Idempotency-Key": "rename-2"}
    url = f"/v1/employees/{employee.id}"
    async with _serving(settings) as client:
        async with transaction(pool) as holder:
            await holder.execute("SELECT 1 FROM employees WHERE id = $1 FOR UPDATE", employee.id)
            busy = await client.patch(url, json={"name": "Renamed"}, headers=headers)
            await _expect_retry(busy, 503, "unavailable", "5")
        assert await _audited(pool, employee) == 0
        assert await _keys_kept(pool) == 0

        again = await client.patch(url, json={"name": "Renamed"}, headers=headers)
        assert again.status == 200, await again.text()
    assert await _audited(pool, employee) == 1
    assert await pool.fetchval("SELECT name FROM employees WHERE id = $1", employee.id) == (
        "Renamed"
    )


async def test_a_read_cancelled_by_statement_timeout_answers_503(
    settings: Settings, factory: Factory, pool: Pool
) -> None:
    employee, auth = await _people(factory)
    await _set_for_database(pool, "statement_timeout", "1s")
    async with _serving(settings) as client, transaction(pool) as holder:
        await holder.execute("LOCK TABLE employees IN ACCESS EXCLUSIVE MODE")
        busy = await client.get(f"/v1/employees/{employee.id}", headers=auth)
        await _expect_retry(busy, 503, "unavailable", "5")


async def test_driver_errors_that_escape_a_handler_become_typed_problems(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        async with connection(pool) as conn:
            await conn.fetchval("SELECT * FROM no_such_table")
        return web.Response()

    async def overflowing(request: web.Request) -> web.Response:
        async with connection(pool) as conn:
            await conn.fetchval("SELECT $1::text::numeric(4, 2)", "123456")
        return web.Response()

    async def cancelled(request: web.Request) -> web.Response:
        async with pool.acquire() as conn:  # even past the boundary
            await conn.execute("SET statement_timeout = '10ms'")
            await conn.execute("SELECT pg_sleep(60)")
        return web.Response()

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/broken", broken)
    app.router.add_get("/overflowing", overflowing)
    app.router.add_get("/cancelled", cancelled)
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.ERROR, logger="billing.db.errors"):
            failed = await client.get("/broken")
        assert failed.status == 500
        assert failed.content_type == "application/problem+json"
        assert (await failed.json())["type"] == PROBLEMS + "database-failure"
        assert "no_such_table" not in await failed.text()
        assert any("42P01" in record.getMessage() for record in caplog.records)

        refused = await client.get("/overflowing")
        assert refused.status == 422
        assert refused.content_type == "application/problem+json"
        assert "Retry-After" not in refused.headers

        await _expect_retry(await client.get("/cancelled"), 503, "unavailable", "5")


async def test_the_document_tells_clients_to_retry(client: Client) -> None:
    document = await (await client.get("/v1/openapi.json")).json()
    patch = document["paths"]["/v1/employees/{id}"]["patch"]["responses"]
    for status in ("409", "503"):
        assert "Retry-After" in patch[status]["headers"]
    listing = document["paths"]["/v1/employees"]["get"]["responses"]
    assert {"500", "503"} <= set(listing)


# -- through the pages ---------------------------------------------------------------------


async def test_a_page_whose_read_is_cancelled_is_a_readable_503(
    settings: Settings, factory: Factory, pool: Pool
) -> None:
    fleet = await factory.fleet()
    key = await factory.key("manager", fleet)
    await _set_for_database(pool, "lock_timeout", "50ms")
    async with _serving(settings) as client:
        await sign_in(client, key)
        async with transaction(pool) as holder:
            await holder.execute("LOCK TABLE line_items IN ACCESS EXCLUSIVE MODE")
            page = await client.get("/app/line-items")
        assert page.status == 503
        assert page.content_type == "text/html"
        assert page.headers["Retry-After"] == "5"
        text = await page.text()
        assert "Reload the page" in text
        assert "Traceback" not in text
        assert (await client.get("/app/line-items")).status == 200
