"""Server time of the approval queue page with 500 pending lines, against a bare handler.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL, else on an embedded
server), migrates it, loads one fleet with 25 employees and 500 pending line items, signs a
manager in, then times `GET /app/line-items?status=pending` (the page as a browser gets it:
session lookup, the queue query, the template) against a bare aiohttp handler that runs the
same query and returns the rows as JSON, in the same process, alternating, over loopback.

    python bench/queue_page.py [--lines 500] [--requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from billing.app import create_app
from billing.config import load_settings
from billing.crypto import new_key
from billing.db import apikeys, views
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.db.pool import create_pool, transaction


async def seed(dsn: str, lines: int) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        fleet = await conn.fetchval(
            "INSERT INTO fleets (name, currency, timezone) VALUES ('Bench', 'EUR', 'Europe/Berlin')"
            " RETURNING id"
        )
        await conn.execute(
            "INSERT INTO tariffs (fleet_id, price_per_kwh, currency, valid_from)"
            " VALUES ($1, 0.34, 'EUR', '2020-01-01')",
            fleet,
        )
        employees = [
            await conn.fetchval(
                "INSERT INTO employees (fleet_id, external_ref, name) VALUES ($1, $2, $3)"
                " RETURNING id",
                fleet,
                f"HR-{i}",
                f"Employee {i:02d}",
            )
            for i in range(25)
        ]
        tariff = await conn.fetchval("SELECT id FROM tariffs")
        for n in range(lines):
            employee = employees[n % len(employees)]
            vehicle = await conn.fetchval(
                "INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)"
                " VALUES ($1, $2, $3, 'TESLA') ON CONFLICT DO NOTHING RETURNING id",
                fleet,
                employee,
                f"sc-{employee}",
            ) or await conn.fetchval(
                "SELECT id FROM vehicles WHERE smartcar_vehicle_id = $1", f"sc-{employee}"
            )
            day = await conn.fetchval("SELECT date '2026-01-01' + $1::int", n // len(employees))
            record = await conn.fetchval(
                "INSERT INTO charge_records (vehicle_id, employee_id, charge_date, home_kwh,"
                " other_kwh, supercharger_kwh, total_kwh, raw, source, request_id, fetched_at)"
                " VALUES ($1, $2, $3, 10.5, 0, 0, 10.5, '{}', 'smartcar', 'req', now())"
                " RETURNING id",
                vehicle,
                employee,
                day,
            )
            await conn.execute(
                "INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id,"
                " charge_date, period, kind, kwh, unit_price, currency, amount, tariff_id,"
                " evidence) VALUES ($1, $2, $3, $4, $5::date, to_char($5::date, 'YYYY-MM'),"
                " 'charge', 10.5, 0.34, 'EUR', 3.57, $6, '{}')",
                fleet,
                employee,
                vehicle,
                record,
                day,
                tariff,
            )
    finally:
        await conn.close()
    pool = await create_pool(dsn, min_size=1, max_size=1)
    async with transaction(pool) as conn:
        key = await apikeys.create_key(
            conn, role="manager", fleet_id=fleet, employee_id=None, name="bench"
        )
    await pool.close()
    return key


def bare_app(dsn: str) -> web.Application:
    async def pool_ctx(app: web.Application) -> object:
        app["pool"] = await create_pool(dsn)
        yield
        await app["pool"].close()

    async def handler(request: web.Request) -> web.Response:
        async with request.app["pool"].acquire() as conn:
            rows, total = await views.queue(
                conn,
                views.QueueFilter(fleet_id=None, status="pending"),
                sort="charge_date",
                descending=False,
                limit=500,
                offset=0,
            )
        body = [{k: str(getattr(r, k)) for k in r.__slots__} for r in rows]
        return web.json_response({"items": body, "total": total}, dumps=json.dumps)

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/bare", handler)
    return app


async def timed(client: TestClient[web.Request, web.Application], path: str) -> float:
    started = time.perf_counter()
    async with client.get(path) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


async def run(dsn: str, lines: int, requests: int) -> None:
    key = await seed(dsn, lines)
    settings = load_settings(database_url=dsn, secret_key=new_key(), log_format="json")
    async with (
        TestClient(TestServer(create_app(settings))) as pages,
        TestClient(TestServer(bare_app(dsn))) as bare,
    ):
        form = await (await pages.get("/login")).text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        await pages.post("/login", data={"api_key": key, "csrf_token": csrf.group(1)})
        page = await (await pages.get("/app/line-items?status=pending")).text()
        assert page.count('name="item"') == lines, "the page does not show every line"
        page_s, bare_s = [], []
        for _ in range(requests):
            page_s.append(await timed(pages, "/app/line-items?status=pending"))
            bare_s.append(await timed(bare, "/bare"))

    def ms(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    print(f"queue page, {lines} pending lines, {requests} requests each, alternating:")
    for name, values in (
        ("page (session, query, template)", page_s),
        ("bare JSON handler", bare_s),
    ):
        print(
            f"  {name:34} median {statistics.median(values) * 1000:7.1f} ms"
            f"   p95 {ms(values, 0.95):7.1f} ms"
        )
    ratio = statistics.median(page_s) / statistics.median(bare_s)
    print(f"  page / bare handler: {ratio:.2f} ×; target: page median under 300 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    server = os.environ.get("BILLING_TEST_DATABASE_URL")
    name = f"bench_queue_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        embedded = None
        if server is None:
            from billing.db.embedded import EmbeddedServer

            embedded = EmbeddedServer(Path(tmp))
            server = embedded.dsn("postgres")
        try:
            asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
            dsn = with_database(server, name)
            upgrade(dsn)
            asyncio.run(run(dsn, args.lines, args.requests))
        finally:
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if embedded is not None:
                embedded.stop()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
