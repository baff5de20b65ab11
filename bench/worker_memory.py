"""Peak resident memory of a `billing worker` process planning and syncing 50,000 vehicles.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL, else on an embedded
server), migrates it, starts the Smartcar simulator with as many vehicles in a child process,
loads fleets, employees, connections (with the simulator's tokens, encrypted) and vehicles
with COPY, then runs a real `billing worker` whose bucket (and the simulator's, configured
alike) lets it read `--reads` vehicles in its first pass: every claim plans over the whole
fleet (`claim_due` orders all due vehicles). The worker keeps ticking for `--idle-s` seconds
once the reads are done. Prints the worker's VmRSS along the way and its peak resident memory
(VmHWM of /proc/<pid>/status) at the end; the database is dropped afterwards.

    python bench/worker_memory.py [--vehicles 50000] [--reads 5000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
import asyncpg

from billing.crypto import TokenCipher, new_key
from billing.db.dsn import with_database
from billing.db.migrations import upgrade
from billing.smartcar_sim import SimulatorOptions, run_simulator

MB = 1024 * 1024
RATE_PER_MINUTE = 2.0  # Smartcar's default refill; the burst is what the pass may spend
TARGET_MB = 200


@dataclass(frozen=True)
class Args:
    vehicles: int
    reads: int
    concurrency: int
    fleets: int
    idle_s: float
    seed: int


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=50_000)
    parser.add_argument(
        "--reads",
        type=int,
        default=5_000,
        help="vehicles the first pass reads (the whole fleet: --reads equal to --vehicles)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--fleets", type=int, default=50)
    parser.add_argument("--idle-s", type=float, default=20.0, help="ticks after the reads")
    parser.add_argument("--seed", type=int, default=1)
    ns = parser.parse_args()
    return Args(
        vehicles=ns.vehicles,
        reads=min(ns.reads, ns.vehicles),
        concurrency=ns.concurrency,
        fleets=max(1, ns.fleets),
        idle_s=ns.idle_s,
        seed=ns.seed,
    )


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


@contextmanager
def server_dsn() -> Iterator[str]:
    configured = os.environ.get("BILLING_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    from billing.db.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="billing-bench-") as tmp:
        server = EmbeddedServer(Path(tmp))
        try:
            yield server.dsn("postgres")
        finally:
            server.stop()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    name = f"billing_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        dsn = with_database(server, name)
        upgrade(dsn)
        yield dsn
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _serve_simulator(options: SimulatorOptions, ready: Connection) -> None:
    async def serve() -> None:
        async with run_simulator(options) as sim:
            ready.send(sim.url)
            await asyncio.Event().wait()  # until the parent terminates the process

    asyncio.run(serve())


@contextmanager
def simulator(options: SimulatorOptions) -> Iterator[str]:
    """The simulator in a child process, so its memory is not the worker's; yields its URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_serve_simulator, args=(options, child), daemon=True)
    process.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("the simulator did not start within 120 s")
        url: str = parent.recv()
        yield url
    finally:
        process.terminate()
        process.join(10)


async def load_fleet(dsn: str, sim_url: str, secret_key: str, args: Args) -> int:
    """Fleets, one employee and one connection per simulated user, every vehicle; by COPY."""
    async with aiohttp.ClientSession() as session, session.get(f"{sim_url}/sim/users") as resp:
        resp.raise_for_status()
        users = (await resp.json())["users"]
    cipher = TokenCipher(secret_key)
    now = datetime.now(UTC)
    fleets = [(uuid.uuid4(), f"Fleet {i + 1}", "EUR", "Europe/Berlin") for i in range(args.fleets)]
    employees, connections, vehicles = [], [], []
    for n, user in enumerate(users):
        fleet_id = fleets[n % len(fleets)][0]
        employee_id, connection_id = uuid.uuid4(), uuid.uuid4()
        employees.append((employee_id, fleet_id, f"HR-{n + 1}", f"Employee {n + 1}"))
        connections.append(
            (
                connection_id,
                employee_id,
                user["user_id"],
                cipher.encrypt(user["access_token"]),
                cipher.encrypt(user["refresh_token"]),
                datetime.fromisoformat(user["access_expires_at"]),
                now,
            )
        )
        granted_on = datetime.fromisoformat(user["granted_at"]).date()
        for smartcar_id in user["vehicle_ids"]:
            vehicles.append(
                (
                    uuid.uuid4(),
                    fleet_id,
                    employee_id,
                    connection_id,
                    smartcar_id,
                    "TESLA",
                    granted_on,
                    now,
                )
            )
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "fleets", records=fleets, columns=["id", "name", "currency", "timezone"]
            )
            await conn.executemany(
                "INSERT INTO tariffs (fleet_id, price_per_kwh, currency, valid_from) "
                "VALUES ($1, 0.30, 'EUR', '2020-01-01')",
                [(fleet[0],) for fleet in fleets],
            )
            await conn.copy_records_to_table(
                "employees",
                records=employees,
                columns=["id", "fleet_id", "external_ref", "name"],
            )
            await conn.copy_records_to_table(
                "smartcar_connections",
                records=connections,
                columns=[
                    "id",
                    "employee_id",
                    "smartcar_user_id",
                    "access_token_enc",
                    "refresh_token_enc",
                    "access_expires_at",
                    "refresh_issued_at",
                ],
            )
            await conn.copy_records_to_table(
                "vehicles",
                records=vehicles,
                columns=[
                    "id",
                    "fleet_id",
                    "employee_id",
                    "connection_id",
                    "smartcar_vehicle_id",
                    "make",
                    "access_granted_on",
                    "next_sync_at",
                ],
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return len(vehicles)


def worker_env(
    dsn: str, sim_url: str, secret_key: str, options: SimulatorOptions, args: Args
) -> dict[str, str]:
    return {
        **os.environ,
        "BILLING_DATABASE_URL": dsn,
        "BILLING_SECRET_KEY": secret_key,
        "BILLING_SMARTCAR_API_URL": sim_url,
        "BILLING_SMARTCAR_AUTH_URL": sim_url,
        "BILLING_SMARTCAR_CONNECT_URL": sim_url,
        "BILLING_SMARTCAR_CLIENT_ID": options.client_id,
        "BILLING_SMARTCAR_CLIENT_SECRET": options.client_secret,
        "BILLING_SMARTCAR_RATE_BURST": str(options.rate_burst),
        "BILLING_SMARTCAR_RATE_PER_MINUTE": str(options.rate_per_minute),
        "BILLING_SMARTCAR_CONCURRENCY": str(args.concurrency),
        "BILLING_SYNC_TICK_S": "5",
        "BILLING_LOG_FORMAT": "json",
    }


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


@dataclass(frozen=True)
class Measured:
    reads: int
    pass_s: float
    records: int
    line_items: int
    rss: int
    peak: int


async def run_worker(dsn: str, env: dict[str, str], reads: int, idle_s: float) -> Measured:
    """Start `billing worker`, wait for `reads` vehicles read, let it tick on, stop it."""
    conn = await asyncpg.connect(dsn)
    with tempfile.NamedTemporaryFile(prefix="billing-worker-", suffix=".log") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billing", "worker", env=env, stdout=log, stderr=log
        )
        try:
            started = time.monotonic()
            shown = 0.0
            while True:
                if proc.returncode is not None:
                    tail = _tail(Path(log.name))
                    raise RuntimeError(f"the worker exited with {proc.returncode}:\n{tail}")
                done = await conn.fetchval(
                    "SELECT count(*) FROM vehicles WHERE last_attempt_at IS NOT NULL"
                )
                leased = await conn.fetchval(
                    "SELECT count(*) FROM vehicles WHERE lease_owner IS NOT NULL"
                )
                elapsed = time.monotonic() - started
                if elapsed - shown >= 30:
                    shown = elapsed
                    rss = memory_of(proc.pid)["VmRSS"]
                    print(
                        f"  {elapsed:6.0f} s: {done:>7,} read ({done / elapsed:5.0f}/s),"
                        f" worker VmRSS {rss / MB:6.1f} MB",
                        flush=True,
                    )
                if done >= reads and leased == 0:
                    break
                await asyncio.sleep(1)
            pass_s = time.monotonic() - started
            print(f"  pass done; the worker keeps ticking for {idle_s:g} s", flush=True)
            await asyncio.sleep(idle_s)
            memory = memory_of(proc.pid)
            records = await conn.fetchval("SELECT count(*) FROM charge_records")
            line_items = await conn.fetchval("SELECT count(*) FROM line_items")
            proc.terminate()
            if await asyncio.wait_for(proc.wait(), 60) != 0:
                raise RuntimeError(f"the worker exited with {proc.returncode} on SIGTERM")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await conn.close()
    return Measured(done, pass_s, records, line_items, memory["VmRSS"], memory["VmHWM"])


def main() -> None:
    args = parse_args()
    command = shlex.join(["python", "bench/worker_memory.py", *sys.argv[1:]])
    print(f"$ {command}", flush=True)
    secret_key = new_key()
    options = SimulatorOptions(
        vehicles=args.vehicles,
        seed=args.seed,
        rate_burst=args.reads,
        rate_per_minute=RATE_PER_MINUTE,
    )
    with server_dsn() as server, throwaway_database(server) as dsn, simulator(options) as url:
        started = time.monotonic()
        loaded = asyncio.run(load_fleet(dsn, url, secret_key, args))
        print(
            f"{loaded:,} vehicles in {args.fleets} fleets loaded in"
            f" {time.monotonic() - started:.1f} s; starting the worker",
            flush=True,
        )
        env = worker_env(dsn, url, secret_key, options, args)
        measured = asyncio.run(run_worker(dsn, env, args.reads, args.idle_s))
    print(
        f"first pass: {measured.reads:,} vehicles read in {measured.pass_s:.0f} s"
        f" ({measured.reads / measured.pass_s:.0f}/s), {measured.records:,} charge records,"
        f" {measured.line_items:,} line items"
    )
    print(f"worker VmRSS at the end: {measured.rss / MB:.1f} MB")
    verdict = "within" if measured.peak < TARGET_MB * MB else "OVER"
    print(
        f"worker peak resident memory (VmHWM): {measured.peak / MB:.1f} MB"
        f" over {loaded:,} vehicles ({verdict} the {TARGET_MB} MB target)"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    main()
