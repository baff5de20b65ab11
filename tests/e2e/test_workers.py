"""Three `billing worker` processes syncing one fleet against the simulator on a real socket.

The acceptance for fleet-scale sync: every vehicle is read, none twice, the application bucket
is never overdrawn, a Retry-After is honoured, a worker killed mid-pass loses nothing (its
leases expire and the others read its vehicles), and a worker stopped with SIGTERM exits 0
promptly holding no lease.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from uuid import UUID

import pytest
from pydantic import SecretStr

from billing.crypto import TokenCipher
from billing.db import vehicles
from billing.db.pool import Pool, transaction
from billing.domain.models import TokenImport, VehicleCreate
from billing.smartcar_sim import Simulator, SimulatorOptions, run_simulator
from tests.conftest import SECRET_KEY
from tests.factories import Factory

VEHICLES = 300
# Smartcar's bucket shape, scaled so the pass takes about half a minute: the simulator and the
# workers are configured alike, and the workers must never make the simulator throttle.
RATE_BURST = 20
RATE_PER_MINUTE = 600
# Leases last 3 * timeout + 30 s, so a killed worker's vehicles come back after 36 s.
TIMEOUT_S = 2
THROTTLE_RETRY_AFTER_S = 15.0
# A vehicle read again sooner than this is throttled by the simulator (a double read shows).
VEHICLE_MIN_INTERVAL_S = 10.0
# Reads in flight finish within a timeout or two; nothing else may hold a stopping worker up.
SIGTERM_WITHIN_S = 2 * TIMEOUT_S + 3

LEASED = "SELECT id FROM vehicles WHERE lease_owner IS NOT NULL"
PROGRESS = (
    "SELECT count(*) FILTER (WHERE sync_state = 'ok') AS ok,"
    " count(*) FILTER (WHERE sync_state = 'not_capable') AS not_capable,"
    " count(*) FILTER (WHERE lease_owner IS NOT NULL) AS leased FROM vehicles"
)

pytestmark = pytest.mark.slow


@pytest.fixture
def sim_options() -> SimulatorOptions:
    return SimulatorOptions(
        vehicles=VEHICLES,
        seed=11,
        latency_ms=40,
        rate_burst=RATE_BURST,
        rate_per_minute=RATE_PER_MINUTE,
        vehicle_min_interval_s=VEHICLE_MIN_INTERVAL_S,
    )


@pytest.fixture
async def sim(sim_options: SimulatorOptions) -> AsyncIterator[Simulator]:
    async with run_simulator(sim_options) as simulator:
        yield simulator


@dataclass
class WorkerProcess:
    proc: asyncio.subprocess.Process
    log: Path

    @property
    def name(self) -> str:
        # what `runner.worker_name()` calls the process, i.e. its lease owner
        return f"{socket.gethostname()}:{self.proc.pid}"

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _env(db_dsn: str, sim: Simulator) -> dict[str, str]:
    options = sim.options
    return {
        **os.environ,
        "BILLING_DATABASE_URL": db_dsn,
        "BILLING_SECRET_KEY": SECRET_KEY,
        "BILLING_SMARTCAR_API_URL": sim.url,
        "BILLING_SMARTCAR_AUTH_URL": sim.url,
        "BILLING_SMARTCAR_CONNECT_URL": sim.url,
        "BILLING_SMARTCAR_CLIENT_ID": options.client_id,
        "BILLING_SMARTCAR_CLIENT_SECRET": options.client_secret,
        "BILLING_SMARTCAR_RATE_BURST": str(options.rate_burst),
        "BILLING_SMARTCAR_RATE_PER_MINUTE": str(options.rate_per_minute),
        "BILLING_SMARTCAR_CONCURRENCY": "8",
        "BILLING_SMARTCAR_TIMEOUT_S": str(TIMEOUT_S),
        "BILLING_SYNC_TICK_S": "0.5",
        "BILLING_LOG_FORMAT": "json",
    }


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[dict[str, str], int], Awaitable[WorkerProcess]]]:
    started: list[WorkerProcess] = []
    files: list[IO[bytes]] = []

    async def start(env: dict[str, str], index: int) -> WorkerProcess:
        log = tmp_path / f"worker-{index}.log"
        out = log.open("wb")
        files.append(out)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billing", "worker", env=env, stdout=out, stderr=out
        )
        worker = WorkerProcess(proc, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            if worker.proc.returncode is None:
                worker.proc.kill()
        for out in files:
            out.close()


async def _import_fleet(pool: Pool, factory: Factory, sim: Simulator) -> dict[str, UUID]:
    """Every simulated vehicle, one employee and one connection per simulated user."""
    fleet = await factory.fleet()
    await factory.tariff(fleet, "0.30")
    cipher = TokenCipher(SECRET_KEY)
    ours: dict[str, UUID] = {}
    now = datetime.now(UTC)
    for user in sim.users():
        employee = await factory.employee(fleet)
        tokens = TokenImport(
            access_token=SecretStr(user.access_token),
            refresh_token=SecretStr(user.refresh_token),
            access_expires_at=user.access_expires_at,
        )
        async with transaction(pool) as conn:
            connection_id = await vehicles.insert_connection(conn, cipher, employee.id, tokens, now)
            await conn.execute(
                "UPDATE smartcar_connections SET smartcar_user_id = $2 WHERE id = $1",
                connection_id,
                user.user_id,
            )
            for smartcar_id in user.vehicle_ids:
                vehicle = await vehicles.insert_vehicle(
                    conn,
                    VehicleCreate(
                        employee_id=employee.id, smartcar_vehicle_id=smartcar_id, make="TESLA"
                    ),
                    fleet_id=fleet.id,
                    connection_id=connection_id,
                    granted_on=user.granted_at,
                )
                ours[smartcar_id] = vehicle.id
    return ours


async def _until(
    check: Callable[[], Awaitable[bool]],
    timeout_s: float,
    what: str,
    interval_s: float = 0.02,
    explain: Callable[[], Awaitable[str]] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            detail = await explain() if explain is not None else ""
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{detail}")
        await asyncio.sleep(interval_s)


async def _leases(pool: Pool, owner: str) -> dict[UUID, datetime]:
    rows = await pool.fetch("SELECT id, lease_until FROM vehicles WHERE lease_owner = $1", owner)
    return {row["id"]: row["lease_until"] for row in rows}


async def _stop(worker: WorkerProcess, within_s: float) -> None:
    worker.proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(worker.proc.wait(), within_s)
    except TimeoutError:
        raise AssertionError(
            f"still running {within_s} s after SIGTERM:\n{worker.tail()}"
        ) from None
    assert code == 0, worker.tail()


async def test_three_workers_read_every_vehicle_once_within_the_budget(
    db_dsn: str,
    pool: Pool,
    factory: Factory,
    sim: Simulator,
    workers: Callable[[dict[str, str], int], Awaitable[WorkerProcess]],
) -> None:
    ours = await _import_fleet(pool, factory, sim)
    assert len(ours) == VEHICLES
    by_ours = {vehicle_id: smartcar_id for smartcar_id, vehicle_id in ours.items()}
    # The simulator's fleet has Teslas on the upgraded integration, which are never readable.
    incapable = {smartcar_id for smartcar_id in ours if not sim.profile(smartcar_id).capable}
    assert 0 < len(incapable) < VEHICLES // 4

    env = _env(db_dsn, sim)
    running = {worker.name: worker for worker in [await workers(env, i) for i in range(3)]}

    async def first_holding_leases(what: str) -> WorkerProcess:
        found: list[str] = []

        async def holds() -> bool:
            owners = await pool.fetch(
                "SELECT DISTINCT lease_owner FROM vehicles WHERE lease_owner IS NOT NULL"
            )
            found.extend(row[0] for row in owners if row[0] in running)
            return bool(found)

        await _until(holds, 30, what)
        return running.pop(found[0])

    # SIGKILL a worker while it holds leases: whatever it was reading is left leased.
    killed = await first_holding_leases("a worker to lease vehicles")
    killed.proc.kill()
    await killed.proc.wait()
    orphaned = {
        by_ours[vehicle_id]: until
        for vehicle_id, until in (await _leases(pool, killed.name)).items()
    }
    assert orphaned, "the killed worker finished its reads before it died; nothing to recover"

    # SIGTERM another while it holds leases: it finishes its reads, releases everything, exits 0.
    stopped = await first_holding_leases("another worker to lease vehicles")
    await _stop(stopped, within_s=SIGTERM_WITHIN_S)
    assert await _leases(pool, stopped.name) == {}, "a stopped worker kept leases"
    (survivor,) = running.values()

    # Throttle a vehicle nobody has read yet; claims go by id, so take the last one.
    leased = {by_ours[row[0]] for row in await pool.fetch(LEASED)}
    unread = sorted(
        set(ours) - incapable - leased - set(sim.stats().record_calls), key=lambda v: ours[v]
    )
    throttled = unread[-1]
    sim.set_fault(throttled, "RATE_LIMIT:VEHICLE", 1, retry_after_s=THROTTLE_RETRY_AFTER_S)

    # The survivor reads the rest, and the killed worker's vehicles once their leases expire.
    async def all_read() -> bool:
        row = await pool.fetchrow(PROGRESS)
        assert row is not None
        return (row["ok"], row["not_capable"], row["leased"]) == (
            VEHICLES - len(incapable),
            len(incapable),
            0,
        )

    async def explain() -> str:
        rows = await pool.fetch(
            "SELECT sync_state, lease_owner IS NOT NULL AS leased, count(*), "
            "min(not_before) AS not_before, min(lease_until) AS lease_until, "
            "min(last_error::text) AS error FROM vehicles GROUP BY 1, 2"
        )
        states = "\n".join(str(dict(row)) for row in rows)
        return f"{states}\nsimulator throttles {sim.stats().throttles}\n{survivor.tail()}"

    await _until(all_read, 75, "every vehicle to be read", interval_s=0.25, explain=explain)
    await _stop(survivor, within_s=SIGTERM_WITHIN_S)
    assert await pool.fetch(LEASED) == []

    stats = sim.stats()
    # The only 429 is the one injected: the simulator's bucket never refused a call.
    assert stats.throttles == {"app": 0, "vehicle": 1}, stats.throttles
    assert set(stats.record_calls) == set(ours), "some vehicle was never read"
    for smartcar_id, calls in stats.record_calls.items():
        statuses = [call.status for call in calls]
        final = 501 if smartcar_id in incapable else 200
        if smartcar_id in orphaned:
            # Maybe reached by the killed worker, then read once more after its lease expired.
            expired = orphaned[smartcar_id]
            assert [call.at >= expired for call in calls] in ([True], [False, True]), (
                calls,
                expired,
            )
            assert statuses[-1] == final, statuses
        elif smartcar_id == throttled:
            assert statuses == [429, 200], statuses
            waited = (calls[1].at - calls[0].at).total_seconds()
            assert waited >= THROTTLE_RETRY_AFTER_S, waited
        else:
            assert statuses == [final], (smartcar_id, statuses)

    rows = await pool.fetch("SELECT id, sync_state, synced_through FROM vehicles")
    for row in rows:
        smartcar_id = by_ours[row["id"]]
        if smartcar_id in incapable:
            assert row["sync_state"] == "not_capable", (smartcar_id, dict(row))
        else:
            assert row["sync_state"] == "ok", (smartcar_id, dict(row))
            assert row["synced_through"] is not None, (smartcar_id, dict(row))
    duplicates = await pool.fetchval(
        "SELECT count(*) FROM (SELECT vehicle_id, charge_date FROM charge_records "
        "GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert duplicates == 0
    without_records = await pool.fetchval(
        "SELECT count(*) FROM vehicles v WHERE sync_state = 'ok' AND NOT EXISTS "
        "(SELECT 1 FROM charge_records r WHERE r.vehicle_id = v.id)"
    )
    assert without_records == 0
