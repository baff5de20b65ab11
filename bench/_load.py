"""Shared by the API load benchmarks: a throwaway database, line items, servers, wrk.

Not a benchmark itself: `api_list.py` and `api_approve.py` import it.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import aiohttp
import asyncpg

from billing.db import apikeys
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.db.pool import create_pool, transaction
from billing.domain.access import Role

EMPLOYEES = 25

# n-th line item id: 00000000-0000-4000-8000-<n, 12 digits>; the wrk scripts build the same
ITEM_ID = "('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid"

SEED = f"""
WITH fleet AS (
    INSERT INTO fleets (name, currency, timezone) VALUES ('Bench', 'EUR', 'Europe/Berlin')
    RETURNING id
), tariff AS (
    INSERT INTO tariffs (fleet_id, price_per_kwh, currency, valid_from)
    SELECT id, 0.34, 'EUR', '2000-01-01' FROM fleet RETURNING id, fleet_id
), people AS (
    INSERT INTO employees (fleet_id, external_ref, name)
    SELECT fleet.id, 'HR-' || e, 'Employee ' || e FROM fleet, generate_series(1, {EMPLOYEES}) e
    RETURNING id, fleet_id, external_ref
)
INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)
SELECT fleet_id, id, 'sc-' || external_ref, 'TESLA' FROM people
RETURNING fleet_id;
"""

ITEMS = f"""
WITH v AS (
    SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, employee_id, fleet_id FROM vehicles
), r AS (
    INSERT INTO charge_records (id, vehicle_id, employee_id, charge_date, home_kwh, other_kwh,
                                supercharger_kwh, total_kwh, raw, source, request_id, fetched_at)
    SELECT ('00000000-0000-4000-9000-' || lpad(n::text, 12, '0'))::uuid, v.id, v.employee_id,
           date '2000-01-01' + (n / {EMPLOYEES})::int, 10.5, 0, 0, 10.5, '{{}}', 'smartcar',
           'req', now()
    FROM generate_series(1, $1) n JOIN v ON v.k = n % {EMPLOYEES}
)
INSERT INTO line_items (id, fleet_id, employee_id, vehicle_id, charge_record_id, charge_date,
                        period, kind, kwh, unit_price, currency, amount, tariff_id, evidence)
SELECT {ITEM_ID}, v.fleet_id, v.employee_id, v.id,
       ('00000000-0000-4000-9000-' || lpad(n::text, 12, '0'))::uuid,
       date '2000-01-01' + (n / {EMPLOYEES})::int,
       to_char(date '2000-01-01' + (n / {EMPLOYEES})::int, 'YYYY-MM'), 'charge', 10.5 + n % 7,
       0.34, 'EUR', round((10.5 + n % 7) * 0.34, 4), (SELECT id FROM tariffs LIMIT 1),
       '{{"record": {{"raw": "x"}}}}'
FROM generate_series(1, $1) n JOIN v ON v.k = n % {EMPLOYEES};
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    server = os.environ["BILLING_TEST_DATABASE_URL"]
    name = f"billing_bench_api_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = with_database(server, name)
        await asyncio.to_thread(upgrade, dsn)
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def seed(dsn: str, items: int) -> UUID:
    """One fleet of 25 employees and vehicles, `items` pending line items; the fleet id."""
    conn = await asyncpg.connect(dsn)
    try:
        fleet: UUID = (await conn.fetch(SEED))[0]["fleet_id"]
        await conn.execute(ITEMS, items)
        await conn.execute("ANALYZE")
        return fleet
    finally:
        await conn.close()


async def make_key(dsn: str, role: Role, fleet_id: UUID) -> str:
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        async with transaction(pool) as conn:
            key: str = await apikeys.create_key(
                conn, role=role, fleet_id=fleet_id, employee_id=None, name="bench"
            )
            return key
    finally:
        await pool.close()


def jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    assert isinstance(value, (date, datetime)), type(value)
    return value.isoformat()


@dataclass
class Server:
    url: str
    process: asyncio.subprocess.Process


@asynccontextmanager
async def serve(argv: list[str], env: dict[str, str], port: int) -> AsyncIterator[Server]:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{url}/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{argv} did not start")
        yield Server(url, process)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


def billing_serve(dsn: str, port: int, secret_key: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(
        BILLING_DATABASE_URL=dsn,
        BILLING_SECRET_KEY=secret_key,
        BILLING_PORT=str(port),
        BILLING_LOG_FORMAT="json",
        BILLING_LOG_LEVEL="WARNING",
    )
    return [sys.executable, "-m", "billing", "serve"], env


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in wrk's output:\n{text}"
    return found.group(1)


def _ms(text: str) -> float:
    number, unit = _find(r"^([\d.]+)(us|ms|s|m)$", text), _find(r"^[\d.]+(us|ms|s|m)$", text)
    return float(number) * _UNITS[unit]


async def wrk(
    url: str,
    *,
    duration_s: int,
    connections: int,
    threads: int,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    env: dict[str, str] | None = None,
) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _ms(_find(r"\s50%\s+(\S+)", out))
    p99 = _ms(_find(r"\s99%\s+(\S+)", out))
    total = int(_find(r"(\d+) requests in", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(r"Socket errors: .*", out)
    if socket_errors:
        print("   ", socket_errors.group(0))
    return WrkResult(rps, p50, p99, total, errors)
