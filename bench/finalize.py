"""Finalizing a month of 10,000 employees × 30 lines, against a bound measured in the same run.

Builds two identical fleets with generate_series (N employees each, one vehicle each, L
approved charge lines per employee in one month), drafts the first fleet's month through the
service, then times:

- **bound**, on the second fleet: one `INSERT … SELECT` writing the same statement rows
  finalization writes (number, totals, line ids, a JSON snapshot of the same content built by
  `jsonb_agg`, its SHA-256 computed by PostgreSQL) and one `UPDATE … FROM` linking every line,
  into the product's own `statements` and `line_items` tables with all their constraints,
  indexes and triggers (the statement-level link check included). Nothing is computed in
  Python.
- **finalize**, on the first fleet: `billing.services.statements.finalize_period`, the path
  the API, the CLI and the worker take: lock the drafts, read the open lines again in one
  query, take the numbers from the counter row at once, build every `StatementDocument`
  (canonical JSON, SHA-256), freeze the statements and link the lines in one statement each,
  record the audit events; one transaction.

Usage: python bench/finalize.py [--employees 10000] [--lines 30] [--server DSN]
(default server: BILLING_TEST_DATABASE_URL, else the embedded one). Runs in a throwaway
database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.db.pool import create_pool
from billing.services import statements
from billing.services.common import system

PERIOD = "2025-03"
WHO = system("bench")

LOAD = """
INSERT INTO fleets (id, name, currency, timezone)
VALUES ($1, 'Bench fleet', 'EUR', 'Europe/Berlin');
INSERT INTO tariffs (id, fleet_id, price_per_kwh, currency, valid_from, source)
VALUES ($2, $1, 0.3412, 'EUR', '2025-01-01', 'standard contract price');
INSERT INTO employees (id, fleet_id, external_ref, name)
SELECT gen_random_uuid(), $1, lpad(n::text, 5, '0'), 'Employee ' || n
FROM generate_series(1, $3) AS n WHERE $2::uuid IS NOT NULL;
INSERT INTO vehicles (fleet_id, employee_id, smartcar_vehicle_id, make)
SELECT $1, e.id, 'bench-' || e.id, 'TESLA' FROM employees e WHERE e.fleet_id = $1;
INSERT INTO charge_records (vehicle_id, employee_id, charge_date, home_kwh, other_kwh,
    supercharger_kwh, total_kwh, raw, source, fetched_at)
SELECT v.id, v.employee_id, date '2025-03-01' + d - 1, 5 + (d % 7) * 1.25, 0, 0,
       5 + (d % 7) * 1.25, '{}'::jsonb, 'bench', now()
FROM vehicles v CROSS JOIN generate_series(1, $4) AS d
WHERE v.fleet_id = $1 AND $2::uuid IS NOT NULL AND $3::int > 0;
INSERT INTO line_items (fleet_id, employee_id, vehicle_id, charge_record_id, charge_date,
    period, kind, kwh, unit_price, currency, amount, tariff_id, status, decided_by, decided_at)
SELECT $1, r.employee_id, r.vehicle_id, r.id, r.charge_date, to_char(r.charge_date, 'YYYY-MM'),
       'charge', r.home_kwh, 0.3412, 'EUR', round(r.home_kwh * 0.3412, 2), $2, 'approved',
       'bench', now()
FROM charge_records r JOIN vehicles v ON v.id = r.vehicle_id WHERE v.fleet_id = $1;
"""

BOUND_STATEMENTS = """
INSERT INTO statements (id, fleet_id, employee_id, period, currency, status, number, total, kwh,
    line_count, line_ids, finalized_at, finalized_by, snapshot, snapshot_sha256)
SELECT g.id, $1, g.employee_id, $2, g.currency, 'finalized',
       'S-2025-' || lpad((row_number() OVER (ORDER BY g.employee_id))::text, 5, '0'),
       g.total, g.kwh, g.n, g.ids, now(), 'bench', doc.snapshot,
       encode(sha256(convert_to(doc.snapshot, 'UTF8')), 'hex')
FROM (
    SELECT gen_random_uuid() AS id, l.employee_id, l.currency, sum(l.amount) AS total,
           sum(l.kwh) AS kwh, count(*)::int AS n,
           array_agg(l.id ORDER BY l.charge_date, l.created_at, l.id) AS ids,
           jsonb_build_object('id', e.id, 'name', e.name, 'external_ref', e.external_ref)
               AS employee,
           jsonb_build_object('id', f.id, 'name', f.name, 'currency', f.currency,
                              'timezone', f.timezone, 'locale', f.locale) AS fleet,
           jsonb_agg(jsonb_build_object(
               'line_item_id', l.id, 'charge_date', l.charge_date, 'period', l.period,
               'kind', l.kind, 'vehicle_name', NULL, 'kwh', l.kwh::text,
               'unit_price', l.unit_price::text, 'amount', l.amount::text,
               'tariff_source', t.source, 'prior_period', l.period < $2)
               ORDER BY l.charge_date, l.created_at, l.id) AS lines
    FROM line_items l
    JOIN tariffs t ON t.id = l.tariff_id
    JOIN employees e ON e.id = l.employee_id
    JOIN fleets f ON f.id = l.fleet_id
    WHERE l.fleet_id = $1 AND l.statement_id IS NULL AND l.status = 'approved'
      AND l.period <= $2
    GROUP BY l.employee_id, l.currency, e.id, f.id
) AS g
CROSS JOIN LATERAL (
    SELECT jsonb_build_object(
        'kind', 'statement', 'document_id', g.id, 'number', NULL, 'status', 'finalized',
        'fleet', g.fleet, 'employee', g.employee, 'period', $2::text, 'currency', g.currency,
        'issued_at', now(), 'lines', g.lines, 'total', g.total::text, 'kwh', g.kwh::text,
        'references_number', NULL, 'reason', NULL, 'pending_not_included', '[]'::jsonb
    )::text AS snapshot
) AS doc;
"""

BOUND_LINES = """
UPDATE line_items l SET statement_id = s.id, version = l.version + 1, updated_at = now()
FROM statements s, unnest(s.line_ids) AS lid
WHERE s.fleet_id = $1 AND s.period = $2 AND s.status = 'finalized' AND l.id = lid;
"""


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _load(conn: asyncpg.Connection, fleet_id: uuid.UUID, employees: int, lines: int) -> None:
    async with conn.transaction():
        values = [fleet_id, uuid.uuid4(), employees, lines]
        for statement in LOAD.strip().split(";\n"):
            used = max(int(n) for n in re.findall(r"\$([0-9])", statement))
            await conn.execute(statement, *values[:used])


async def run(dsn: str, employees: int, lines: int) -> None:
    # two identical fleets: one finalized through the service, the other by the bound
    fleet_id, bound_fleet_id = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await _load(conn, fleet_id, employees, lines)
        await _load(conn, bound_fleet_id, employees, lines)
        await conn.execute("VACUUM ANALYZE")
        print(
            f"data set: 2 fleets of {employees} employees × {lines} lines"
            f" loaded in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await conn.close()

    pool = await create_pool(dsn, max_size=4)
    try:
        started = time.perf_counter()
        counts = await statements.refresh_drafts(pool, WHO, fleet_id=fleet_id, period=PERIOD)
        print(f"drafts: {counts.created} created in {time.perf_counter() - started:.1f} s")

        async with pool.acquire() as conn:
            started = time.perf_counter()
            async with conn.transaction():
                written = await conn.execute(BOUND_STATEMENTS, bound_fleet_id, PERIOD)
                linked = await conn.execute(BOUND_LINES, bound_fleet_id, PERIOD)
            bound = time.perf_counter() - started
        print(
            f"bound (INSERT … SELECT {written.split()[-1]} statements + UPDATE … FROM"
            f" {linked.split()[-1]} lines, real tables and triggers): {bound:.2f} s"
        )

        started = time.perf_counter()
        done = await statements.finalize_period(
            pool, WHO, fleet_id=fleet_id, period=PERIOD, now=datetime.now(UTC)
        )
        elapsed = time.perf_counter() - started
        print(
            f"finalize_period: {len(done)} statements in {elapsed:.2f} s"
            f" = {elapsed / bound:.2f} × bound ({len(done) / elapsed:.0f} statements/s)"
        )
        async with pool.acquire() as conn:
            numbers = sorted(
                int(row["number"].rsplit("-", 1)[1])
                for row in await conn.fetch(
                    "SELECT number FROM statements WHERE fleet_id = $1", fleet_id
                )
            )
            linked = await conn.fetchval(
                "SELECT count(*) FROM line_items WHERE statement_id IS NOT NULL AND fleet_id = $1",
                fleet_id,
            )
        gapless = numbers == list(range(1, len(numbers) + 1))
        print(f"lines linked: {linked}; numbers 1..{len(numbers)} without gap: {gapless}")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--server", default=os.environ.get("BILLING_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if not args.server:
        raise SystemExit("give --server DSN or set BILLING_TEST_DATABASE_URL")
    name = f"billing_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(args.server, f'CREATE DATABASE "{name}"'))
    try:
        dsn = with_database(args.server, name)
        upgrade(dsn)
        asyncio.run(run(dsn, args.employees, args.lines))
    finally:
        asyncio.run(_admin(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
