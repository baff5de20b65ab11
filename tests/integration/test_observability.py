"""Operators can see: the worker's /healthz and /metrics, request ids from API to audit."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from rich.console import Console
from rich.progress import Progress
from yarl import URL

from billing.app import create_app
from billing.config import Settings
from billing.db.pool import Pool
from billing.observability import configure_logging, logs_through
from billing.services import statements
from billing.smartcar_sim import Simulator
from billing.sync.metrics import SyncMetrics, worker_status
from billing.sync.runner import run_pass
from billing.sync.vehicle import SyncContext
from tests.close_scene import ADMIN, MARCH, NOW, approved_days
from tests.factories import Factory
from tests.integration.conftest import import_vehicle
from tests.integration.test_tokens import _env
from tests.line_item_factories import build_scene


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{head} not in metrics:\n{text}")


async def test_worker_metrics_count_outcomes_calls_budget_states_and_risk(
    sync_ctx: SyncContext, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet)
    employee = await factory.employee(fleet)
    read = await import_vehicle(pool, employee, sim.create_user(1))
    unread = await import_vehicle(pool, employee, sim.create_user(1))
    today = datetime.now(UTC).date()
    # never read, readable since 29 days ago: days -29 … -25 leave the window within 5 days
    await pool.execute(
        "UPDATE vehicles SET access_granted_on = $2, next_sync_at = now() + interval '1 day'"
        " WHERE id = $1",
        unread,
        today - timedelta(days=29),
    )
    metrics = SyncMetrics()
    metrics.attach(sync_ctx)
    async with worker_status(sync_ctx, metrics, "127.0.0.1", 0) as url:
        assert url is not None
        report = await run_pass(sync_ctx, only=[read], on_result=metrics.outcome)
        assert [r.outcome for r in report.results] == ["ok"]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 200
                text = await response.text()
    assert _sample(text, "billing_sync_outcomes_total", outcome="ok") == 1
    calls = _sample(text, "billing_smartcar_calls_total", endpoint="charge_records", status="200")
    assert calls >= 1
    assert _sample(text, "billing_vehicles", sync_state="ok") == 1
    assert _sample(text, "billing_vehicles", sync_state="new") == 1
    assert _sample(text, "billing_vehicles", sync_state="needs_reauth") == 0
    assert _sample(text, "billing_days_at_risk") == 5
    assert _sample(text, "billing_vehicles_at_risk") == 1
    budget = _sample(text, "billing_smartcar_budget_tokens")
    assert 0 <= budget <= sync_ctx.settings.smartcar_rate_burst


async def test_worker_metrics_count_statements_by_status(
    sync_ctx: SyncContext, pool: Pool, factory: Factory
) -> None:
    scene = await build_scene(factory)
    await approved_days(scene, scene.me.id, [1])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    (first,) = await statements.finalize_period(
        pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW
    )
    await statements.void_statement(pool, ADMIN, first.id, reason="wrong tariff")
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    await statements.finalize_period(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW)
    await approved_days(scene, scene.colleague.id, [5])
    await approved_days(scene, scene.colleague.id, [6])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period="2025-03")
    metrics = SyncMetrics()
    async with (
        worker_status(sync_ctx, metrics, "127.0.0.1", 0) as url,
        aiohttp.ClientSession() as http,
        http.get(f"{url}/metrics") as response,
    ):
        text = await response.text()
    assert _sample(text, "billing_statements", status="finalized") == 1
    assert _sample(text, "billing_statements", status="void") == 1
    assert _sample(text, "billing_statements", status="draft") == 1
    await statements.finalize_period(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW)
    await metrics.refresh(sync_ctx)
    again = generate_latest(metrics.registry).decode()
    assert _sample(again, "billing_statements", status="finalized") == 2
    assert _sample(again, "billing_statements", status="draft") == 0


async def test_worker_port_unset_serves_nothing(sync_ctx: SyncContext) -> None:
    async with worker_status(sync_ctx, SyncMetrics(), "127.0.0.1", None) as url:
        assert url is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_billing_worker_serves_healthz_on_its_port(sync_settings: Settings) -> None:
    port = _free_port()
    env = {**_env(sync_settings), "BILLING_WORKER_PORT": str(port), "BILLING_SYNC_TICK_S": "3600"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "billing", "worker", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        status = None
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        status = response.status
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert status == 200
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert "billing_vehicles" in await response.text()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()


async def test_request_id_reaches_logs_and_the_audit_event(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    configure_logging("json")
    captured = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    manager = factory.auth(await factory.key("manager", fleet))
    async with TestClient(TestServer(create_app(sync_settings))) as api:
        start = await api.get(
            f"/v1/connect/start?employee_id={employee.id}", headers=manager, allow_redirects=False
        )
        async with (
            aiohttp.ClientSession() as browser,
            browser.get(URL(start.headers["Location"]), allow_redirects=False) as consent,
        ):
            callback = URL(consent.headers["Location"])
        done = await api.get(callback.path_qs, headers={"X-Request-Id": "req-end-to-end-1"})
        assert done.status == 200, await done.text()
        assert done.headers["X-Request-Id"] == "req-end-to-end-1"
        fresh = await api.get("/healthz")
        assert len(fresh.headers["X-Request-Id"]) == 32  # none given: one is made
        audit = await api.get("/v1/audit-events?entity=vehicle", headers=manager)
        assert audit.status == 200, await audit.text()
        events = await audit.json()
    handler.setStream(sys.stderr)
    lines = [json.loads(line) for line in captured.getvalue().splitlines() if line]
    smartcar = [line for line in lines if str(line.get("event", "")).startswith("smartcar ")]
    assert smartcar, lines
    assert all(line["request_id"] == "req-end-to-end-1" for line in smartcar)
    rows = await pool.fetch("SELECT action, request_id FROM audit_events WHERE entity = 'vehicle'")
    assert rows
    assert {row["request_id"] for row in rows} == {"req-end-to-end-1"}
    assert {item["request_id"] for item in events["items"]} == {"req-end-to-end-1"}


def test_log_lines_go_above_a_live_progress_bar() -> None:
    configure_logging("console")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    stderr = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stderr)
    try:
        with Progress(console=console) as progress, logs_through(progress.console):
            progress.add_task("sync", total=10)
            logging.getLogger("billing.test").warning("a line that must not tear the bar")
        assert "a line that must not tear the bar" in screen.getvalue()
        assert stderr.getvalue() == ""  # nothing written past the console while it was live
        logging.getLogger("billing.test").warning("after the bar")
        assert "after the bar" in stderr.getvalue()
    finally:
        handler.setStream(sys.stderr)
