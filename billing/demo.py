"""`billing demo`: a seeded fleet, connected through Smartcar Connect against the simulator.

The fleet has a dozen employees. Eleven have a tariff (most the standard contract price,
three their own); the twelfth has none yet, so the days they charged at home show as
unpriced. Every start connects the employees' cars through the real Connect flow (the
simulator, seeded, hands out the same vehicles every time, so rows are re-used), syncs them
once, and the first start also approves a line whose day the simulator later restates, so an
adjustment line shows how corrections never rewrite an approved payout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import aiohttp
from yarl import URL

from billing.app import create_app
from billing.config import Settings, load_settings
from billing.db import demo as demo_db
from billing.db.embedded import resolve_dsn
from billing.db.migrations import upgrade_async
from billing.db.pool import Pool, connection, create_pool
from billing.demo_close import close_demo_months
from billing.domain.access import ROLES
from billing.domain.apikeys import ApiKeyCreate
from billing.domain.decisions import Requested
from billing.domain.line_items import in_minor_units
from billing.domain.models import EmployeeCreate, FleetCreate, TariffCreate
from billing.runtime import serving, stop_signals
from billing.services import api_keys, decisions, employees, fleets, tariffs
from billing.services.common import system
from billing.smartcar_sim import Simulator, SimulatorOptions, run_simulator
from billing.smartcar_sim.data import day_energy
from billing.sync.runner import run_pass, sync_context
from billing.sync.vehicle import SyncContext
from billing.sync.worker import Worker

DEMO_FLEET = "Demo Fleet GmbH"
SEEDER = system("demo:seed")  # the audit actor of the seeded fleet, its people and keys
DEMO = system("demo")  # the demo's own decisions, made through the decision service
SIM_SEED = 2026
log = logging.getLogger(__name__)

_PEOPLE = [
    ("Anna Schmidt", "Europe/Berlin"),
    ("Ben Müller", "Europe/Berlin"),
    ("Clara Weber", "Europe/Berlin"),
    ("David Fischer", "Europe/Berlin"),
    ("Elif Yilmaz", "Europe/Berlin"),
    ("Felix Wagner", "Europe/Vienna"),
    ("Greta Becker", "Europe/Berlin"),
    ("Hannah Hoffmann", "Europe/Zurich"),
    ("Ilias Papadopoulos", "Europe/Athens"),
    ("Jonas Koch", "Europe/Berlin"),
    ("Katarzyna Nowak", "Europe/Warsaw"),
    ("Lukas Richter", "Europe/Berlin"),
]
STANDARD_PRICE = Decimal("0.3200")
_OWN_PRICES = {1: Decimal("0.3412"), 4: Decimal("0.2987"), 7: Decimal("0.3650")}
UNPRICED = len(_PEOPLE) - 1


@dataclass(frozen=True)
class DemoKeys:
    keys: dict[str, str]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.keys, out, indent=2)

    @classmethod
    def load(cls, path: Path) -> DemoKeys | None:
        if not path.exists():
            return None
        return cls(json.loads(path.read_text()))


async def _create_fleet(pool: Pool) -> UUID:
    fleet = await fleets.create_fleet(
        pool, SEEDER, FleetCreate(name=DEMO_FLEET, currency="EUR", timezone="Europe/Berlin")
    )
    for n, (name, tz) in enumerate(_PEOPLE):
        employee = await employees.create_employee(
            pool,
            SEEDER,
            EmployeeCreate(
                fleet_id=fleet.id,
                external_ref=f"HR-{1001 + n}",
                name=name,
                email=f"{name.split()[0].lower()}@demo.example",
                timezone=tz,
            ),
        )
        if n == UNPRICED:
            continue
        own = n in _OWN_PRICES
        await tariffs.create_tariff(
            pool,
            SEEDER,
            TariffCreate(
                fleet_id=fleet.id,
                employee_id=employee.id,
                price_per_kwh=_OWN_PRICES.get(n, STANDARD_PRICE),
                currency="EUR",
                valid_from=date(2025, 1, 1),
                source="employee's own electricity contract" if own else "standard contract price",
            ),
        )
    return fleet.id


async def seed(pool: Pool, keys_file: Path) -> DemoKeys:
    """Create the demo fleet once; later runs reuse it and the keys saved beside the data."""
    async with connection(pool) as conn:
        fleet_id = await demo_db.fleet_named(conn, DEMO_FLEET)
    saved = DemoKeys.load(keys_file)
    if fleet_id is not None and saved is not None:
        return saved
    if fleet_id is None:
        fleet_id = await _create_fleet(pool)
    async with connection(pool) as conn:
        first_employee = await demo_db.first_employee(conn, fleet_id)
    keys: dict[str, str] = {}
    for role in ROLES:
        created = await api_keys.create_api_key(
            pool,
            SEEDER,
            ApiKeyCreate(
                role=role,
                fleet_id=None if role == "admin" else fleet_id,
                employee_id=first_employee if role == "employee" else None,
                name=f"demo {role}",
            ),
            now=datetime.now(UTC),
        )
        keys[role] = created.key
    demo_keys = DemoKeys(keys)
    demo_keys.save(keys_file)
    return demo_keys


async def connect_vehicles(pool: Pool, api_url: str, manager_key: str) -> int:
    """Connect every demo employee's car through the real Connect flow, playing the browser."""
    async with connection(pool) as conn:
        employees = await demo_db.employees_of_fleet_named(conn, DEMO_FLEET)
    headers = {"Authorization": f"Bearer {manager_key}"}
    connected = 0
    # a browser keeps the cookie that binds each Connect flow to it (on 127.0.0.1 too)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        for employee_id in employees:
            start = f"{api_url}/v1/connect/start?employee_id={employee_id}"
            async with browser.get(start, headers=headers, allow_redirects=False) as response:
                consent = URL(response.headers["Location"])
            # A simulator knob: connected 30 days ago, so a full window is readable. Seeded,
            # the simulator hands out the same vehicles in the same order on every start.
            consent = consent.update_query(sim_history_days="30")
            async with browser.get(consent, allow_redirects=True) as response:
                if response.status == 200:
                    connected += 1
                else:
                    log.warning("connecting employee %s failed: %s", employee_id, response.status)
    return connected


async def show_a_restatement(ctx: SyncContext, pool: Pool, sim: Simulator) -> bool:
    """Approve a line whose day the simulator restates a few days later, then let those days
    pass in the simulator and read again: the approved line stays, an adjustment appears."""
    today = sim.now().date()
    async with connection(pool) as conn:
        if await demo_db.has_adjustments(conn):
            return False
        candidates = await demo_db.recent_pending_charges(conn, today - timedelta(days=4))
    for line in candidates:
        profile = sim.vehicles.get(line.smartcar_vehicle_id)
        if profile is None:
            continue
        day = line.charge_date
        served_now = day_energy(profile, sim.options.seed, day, today)
        served_later = day_energy(profile, sim.options.seed, day, today + timedelta(days=5))
        if served_later.restated and not served_now.restated:
            # through the same decision rules as an approval in the API or the pages
            await decisions.decide(pool, DEMO, [Requested(line.id, "approve", line.version)])
            sim.advance(5 * 86400)
            await run_pass(ctx, only=[line.vehicle_id])
            return True
    return False


async def run_demo(base: Settings, say: Callable[[str], None]) -> None:
    """Everything in one process until SIGINT/SIGTERM."""
    say("starting the database …")
    dsn = await resolve_dsn(base)
    await upgrade_async(dsn)
    options = SimulatorOptions(seed=SIM_SEED, fault_rate=0.03)
    async with run_simulator(options) as sim:
        assert sim.url is not None
        callback = f"http://{base.host}:{base.port}/v1/connect/callback"
        settings = load_settings(
            secret_key=base.secret_key,
            smartcar_api_url=sim.url,
            smartcar_auth_url=sim.url,
            smartcar_connect_url=sim.url,
            smartcar_client_id=options.client_id,
            smartcar_client_secret=options.client_secret,
            smartcar_redirect_uri=callback,
            sync_tick_s=min(base.sync_tick_s, 15),
        )
        pool = await create_pool(dsn, max_size=8)
        root = logging.getLogger()
        level = root.level
        try:
            keys = await seed(pool, settings.data_dir / "demo-keys.json")
            # Start-up's request logs (and the warnings about the demo's deliberately
            # incapable car, which the summary counts) would bury the URL and the keys:
            # only errors until they are printed, then the usual level.
            root.setLevel(max(level, logging.ERROR))
            async with serving(create_app(settings), settings.host, settings.port) as url:
                say(f"Smartcar simulator on {sim.url}; connecting the demo cars through Connect …")
                connected = await connect_vehicles(pool, url, keys.keys["manager"])
                async with demo_sync_context(settings, pool, sim) as ctx:
                    say(f"{connected} employee(s) connected; first sync …")
                    await run_pass(ctx)
                    await show_a_restatement(ctx, pool, sim)
                    say(await _summary(pool))
                    async with connection(pool) as conn:
                        fleet_id = await demo_db.fleet_named(conn, DEMO_FLEET)
                    assert fleet_id is not None
                    closed = await close_demo_months(pool, fleet_id)
                    if closed:
                        say(closed)
                    worker = Worker(ctx)
                    task = asyncio.create_task(worker.run())
                    with stop_signals() as stop:
                        say(_instructions(url, settings, keys))
                        root.setLevel(level)
                        await stop.wait()
                    say("stopping …")
                    worker.stop.set()
                    await task
        finally:
            root.setLevel(level)
            await pool.close()


def demo_sync_context(
    settings: Settings, pool: Pool, sim: Simulator
) -> AbstractAsyncContextManager[SyncContext]:
    """Sync on the simulator's clock: the demo moves that clock forward to show a
    restatement, and reads must ask for days the simulator has (a car connected later, on
    the simulator's today, would otherwise be asked for a range that ends before it began)."""
    return sync_context(settings, pool, clock=sim.now)


async def _summary(pool: Pool) -> str:
    async with connection(pool) as conn:
        seen = await demo_db.totals(conn)
    by_state = ", ".join(f"{n} {state}" for state, n in seen.vehicles_by_state)
    return (
        f"vehicles: {by_state}\n"
        f"line items: {seen.pending} pending"
        f" (EUR {in_minor_units(seen.pending_amount, 'EUR')}), "
        f"{seen.adjustments} adjustment(s); {seen.unpriced_days} unpriced day(s)"
    )


def _instructions(url: str, settings: Settings, keys: DemoKeys) -> str:
    manager, hr = keys.keys["manager"], keys.keys["hr"]
    rows = "\n".join(f"  {role:<9} {key}" for role, key in keys.keys.items())
    return f"""
fleet-billing demo is running at {url}
  web pages: {url}/login   (sign in with one of the keys below)
  API docs:  {url}/docs
  data in:   {settings.data_dir}

API keys (sign in with them, or send as 'Authorization: Bearer <key>'):
{rows}

try:
  curl -H 'Authorization: Bearer {manager}' '{url}/v1/line-items?status=pending&limit=5'
  curl -H 'Authorization: Bearer {manager}' -H 'Content-Type: application/json' \\
       -d '{{"version": 1}}' {url}/v1/line-items/<id>/approve
  curl -H 'Authorization: Bearer {hr}' '{url}/v1/changes?limit=20'
  curl -H 'Authorization: Bearer {manager}' '{url}/v1/vehicles?limit=3'
  curl -H 'Authorization: Bearer {hr}' '{url}/v1/statements?status=finalized&limit=5'
  curl -H 'Authorization: Bearer {hr}' -o statement.pdf '{url}/v1/statements/<id>/pdf'
  curl -H 'Authorization: Bearer {hr}' '{url}/v1/payroll-exports'
The worker keeps syncing in the background. Ctrl-C stops everything."""
