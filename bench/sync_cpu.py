"""Sync CPU per 1,000 vehicle reads, against its floor, with the same simulator.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL, else on an embedded
server), migrates it, starts the Smartcar simulator with `--vehicles` vehicles in a child
process (its CPU is not counted) and loads fleets, employees, connections and vehicles as
`worker_memory.py` does. Then, in this process, over loopback:

- **floor**: for every vehicle, `GET …/tesla/charge/records` of the days the sync will read
  (from the day access was granted to yesterday) with the vehicle's token, `json.loads`
  with exact decimals, and one COPY of every record (vehicle, day, the three energies, the
  raw JSON) into a scratch table; `--concurrency` requests in flight. Run `--floors` times;
  the median counts.
- **sync**: one `run_pass` (the worker's pass: claim, token, read, ingest, price, schedule)
  over the whole fleet with the same concurrency.

CPU is this process's (`time.process_time`: user + system), so PostgreSQL and the simulator
are not counted on either side. Prints CPU seconds per 1,000 vehicle reads of each and the
ratio; `--profile` adds the top functions of a CPU-time cProfile of the pass.

    BILLING_TEST_DATABASE_URL=postgresql://… python bench/sync_cpu.py [--vehicles 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
from worker_memory import Args, load_fleet, server_dsn, simulator, throwaway_database, worker_env

from billing.config import load_settings
from billing.crypto import new_key
from billing.db.pool import create_pool
from billing.smartcar_sim import SimulatorOptions
from billing.sync.runner import run_pass, sync_context

SCRATCH = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_floor_records (
    vehicle text, charge_date text, home_kwh numeric, other_kwh numeric,
    supercharger_kwh numeric, raw jsonb
)
"""


async def floor(sim_url: str, dsn: str, concurrency: int) -> tuple[float, int, int]:
    """CPU seconds, vehicles read and records copied by the floor."""
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/sim/users") as resp:
        users = (await resp.json())["users"]
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCRATCH)
    await conn.execute("TRUNCATE bench_floor_records")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    gate = asyncio.Semaphore(concurrency)
    rows: list[tuple[Any, ...]] = []
    started = time.process_time()

    async def read(http: aiohttp.ClientSession, user: dict[str, Any], vehicle: str) -> None:
        granted = datetime.fromisoformat(user["granted_at"]).date()
        params = {"startDate": granted.isoformat(), "endDate": yesterday.isoformat()}
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        url = f"{sim_url}/v2.0/vehicles/{vehicle}/tesla/charge/records"
        async with gate, http.get(url, params=params, headers=headers) as resp:
            body = await resp.read()
        if resp.status != 200:  # a vehicle that is not capable: the sync reads it too
            return
        for record in json.loads(body, parse_float=Decimal)["records"]:
            rows.append(
                (
                    vehicle,
                    str(record["date"]),
                    record["home"],
                    record["other"],
                    record["superCharger"],
                    json.dumps(record, default=str),
                )
            )

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(
            *(read(http, user, vehicle) for user in users for vehicle in user["vehicle_ids"])
        )
    await conn.copy_records_to_table("bench_floor_records", records=rows)
    cpu = time.process_time() - started
    await conn.close()
    vehicles = sum(len(user["vehicle_ids"]) for user in users)
    return cpu, vehicles, len(rows)


async def sync(dsn: str, profile: bool) -> tuple[float, int, int, str]:
    """CPU seconds, vehicles read (any outcome) and charge records stored by one run_pass."""
    settings = load_settings()
    pool = await create_pool(dsn)
    try:
        async with sync_context(settings, pool) as ctx:
            # CPU time, as the figures: a wall-clock profile counts the waits on the loopback too.
            profiler = cProfile.Profile(time.process_time) if profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            report = await run_pass(ctx)
            if profiler:
                profiler.disable()
            cpu = time.process_time() - started
        ok = len(report.results)
        records: int = await pool.fetchval("SELECT count(*) FROM charge_records")
    finally:
        await pool.close()
    text = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        text = out.getvalue()
    return cpu, ok, records, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--floors", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    ns = parser.parse_args()
    command = shlex.join(["python", "bench/sync_cpu.py", *sys.argv[1:]])
    args = Args(ns.vehicles, ns.vehicles, ns.concurrency, 10, 0.0, 1)
    secret = new_key()
    options = SimulatorOptions(
        vehicles=args.vehicles, seed=1, rate_burst=(ns.floors + 2) * args.vehicles
    )
    with server_dsn() as server, throwaway_database(server) as dsn, simulator(options) as url:
        loaded = asyncio.run(load_fleet(dsn, url, secret, args))
        os.environ.update(worker_env(dsn, url, secret, options, args))
        floors = [asyncio.run(floor(url, dsn, ns.concurrency)) for _ in range(ns.floors)]
        sync_cpu, ok, records, profile = asyncio.run(sync(dsn, ns.profile))
    floor_cpu = statistics.median(f[0] for f in floors)
    _, floor_vehicles, floor_records = floors[0]
    print(f"{loaded:,} vehicles; concurrency {ns.concurrency}")
    print(
        f"floor: {floor_vehicles:,} reads, {floor_records:,} records, CPU "
        + ", ".join(f"{f[0]:.2f}" for f in floors)
        + f" s; median {floor_cpu:.2f} s = {floor_cpu / floor_vehicles * 1000:.2f} s per 1,000"
    )
    print(
        f"sync (run_pass): {ok:,} reads, {records:,} charge records, CPU {sync_cpu:.2f} s"
        f" = {sync_cpu / max(ok, 1) * 1000:.2f} s per 1,000"
    )
    ratio = (sync_cpu / max(ok, 1)) / (floor_cpu / floor_vehicles)
    print(f"ratio sync / floor per read: {ratio:.2f} (target <= 3)")
    if profile:
        print(profile)
    print(f"command: {command}")


if __name__ == "__main__":
    main()
