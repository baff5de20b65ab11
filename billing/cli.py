"""The `billing` command."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar
from uuid import UUID

import click

from billing.config import ConfigError, Settings, load_settings
from billing.crypto import new_key
from billing.db.embedded import resolve_dsn, stop_embedded_servers
from billing.db.migrations import upgrade_async
from billing.db.pool import create_pool, transaction
from billing.domain.access import ROLES, Role
from billing.domain.errors import DomainError
from billing.observability import configure_logging

T = TypeVar("T")
log = logging.getLogger("billing")


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_format)
    return settings


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; stop the embedded server (if this process started it) afterwards."""
    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stop_embedded_servers()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleet-billing")
def main() -> None:
    """Reimburses employees for charging their electric company cars at home."""


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision (safe to repeat)."""
    settings = _settings()

    async def run() -> None:
        await upgrade_async(await resolve_dsn(settings))

    _run(run)
    click.echo("schema is at head")


@main.command()
def serve() -> None:
    """Serve the HTTP API and web pages."""
    settings = _settings()
    if settings.secret_key is None:
        raise click.ClickException(
            "BILLING_SECRET_KEY is required (generate one with `billing secret-key`)"
        )
    from billing.api.app import create_app
    from billing.runtime import serving, wait_for_stop_signal

    async def run() -> None:
        async with serving(create_app(settings), settings.host, settings.port) as url:
            log.info("serving on %s", url)
            await wait_for_stop_signal()

    _run(run)


@main.command("secret-key")
def secret_key() -> None:
    """Print a new key for BILLING_SECRET_KEY."""
    click.echo(new_key())


@main.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--fleet", "fleet_id", type=click.UUID, help="the fleet the key is bound to")
@click.option("--employee", "employee_id", type=click.UUID, help="the employee it acts for")
@click.option("--name", help="a label to recognise the key by")
def apikey_create(
    role: Role, fleet_id: UUID | None, employee_id: UUID | None, name: str | None
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    if role != "admin" and fleet_id is None:
        raise click.UsageError(f"--fleet is required for the {role} role")
    if role == "admin" and (fleet_id or employee_id):
        raise click.UsageError("an admin key is not bound to a fleet or employee")
    if role == "employee" and employee_id is None:
        raise click.UsageError("--employee is required for the employee role")
    settings = _settings()
    from billing.db import apikeys

    async def run() -> str:
        pool = await create_pool(await resolve_dsn(settings), min_size=1, max_size=1)
        try:
            async with transaction(pool) as conn:
                return await apikeys.create_key(
                    conn,
                    role=role,
                    fleet_id=fleet_id,
                    employee_id=employee_id,
                    name=name,
                )
        finally:
            await pool.close()

    click.echo(_run(run))


@main.command()
@click.option(
    "--vehicle",
    "vehicles",
    type=click.UUID,
    multiple=True,
    help="a vehicle's id in this service (repeatable)",
)
@click.option("--all", "all_due", is_flag=True, help="every due vehicle")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per vehicle")
def sync(vehicles: tuple[UUID, ...], all_due: bool, as_json: bool) -> None:
    """Read vehicles now, under the shared budget and leases."""
    if bool(vehicles) == all_due:
        raise click.UsageError("give --vehicle ID (repeatable) or --all")
    settings = _settings()
    if settings.secret_key is None:
        raise click.ClickException(
            "BILLING_SECRET_KEY is required to read Smartcar tokens (the one the API uses)"
        )
    from billing.sync.progress import run_sync_command

    ok = _run(lambda: run_sync_command(settings, list(vehicles) or None, as_json=as_json))
    sys.exit(0 if ok else 3)


@main.command()
def worker() -> None:
    """Scheduled work: syncing vehicles and token upkeep, until SIGINT/SIGTERM."""
    settings = _settings()
    if settings.secret_key is None:
        raise click.ClickException("BILLING_SECRET_KEY is required to read Smartcar tokens")
    from billing.runtime import wait_for_stop_signal
    from billing.sync.runner import sync_context
    from billing.sync.worker import Worker

    async def run() -> None:
        pool = await create_pool(await resolve_dsn(settings), max_size=4)
        try:
            async with sync_context(settings, pool) as ctx:
                worker = Worker(ctx)
                task = asyncio.create_task(worker.run())
                await wait_for_stop_signal()
                worker.stop.set()
                await task
        finally:
            await pool.close()

    _run(run)


@main.group()
def statements() -> None:
    """Monthly statements."""


def _period(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter("must be a month as YYYY-MM")
    return value


@statements.command("close")
@click.option("--fleet", "fleet_id", type=click.UUID, required=True)
@click.option("--period", required=True, callback=_period, help="the month, YYYY-MM")
@click.option("--finalize", is_flag=True, help="also finalize every draft (all or nothing)")
def statements_close(fleet_id: UUID, period: str, finalize: bool) -> None:
    """Draft (and finalize) a month's statements of a fleet, with progress."""
    settings = _settings()
    from billing.close_cli import close_command

    click.echo(_run(lambda: close_command(settings, fleet_id, period, finalize)), err=True)


@main.command("export")
@click.option("--fleet", "fleet_id", type=click.UUID, required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "datev-lodas"]), required=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="file to write"
)
def export(fleet_id: UUID, fmt: Literal["csv", "datev-lodas"], output: Path | None) -> None:
    """A payroll export of everything finalized and not yet exported (stdout without -o)."""
    settings = _settings()
    from billing.close_cli import export_command

    content, summary = _run(lambda: export_command(settings, fleet_id, fmt))
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(content)
    click.echo(summary, err=True)


@main.command("smartcar-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--vehicles", default=10, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0, 600_000))
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1))
def smartcar_sim(
    host: str, port: int, vehicles: int, seed: int, latency_ms: float, fault_rate: float
) -> None:
    """Run the Smartcar simulator (Connect, tokens, vehicles, charge records)."""
    configure_logging(load_settings().log_format)
    from billing.runtime import wait_for_stop_signal
    from billing.smartcar.sim import SimulatorOptions, run_simulator

    options = SimulatorOptions(
        vehicles=vehicles, seed=seed, latency_ms=latency_ms, fault_rate=fault_rate
    )

    async def run() -> None:
        async with run_simulator(options, host=host, port=port) as sim:
            click.echo(f"Smartcar simulator on {sim.url} ({vehicles} vehicles, seed {seed})")
            click.echo(f"  pre-issued tokens: {sim.url}/sim/users   counters: {sim.url}/sim/stats")
            sys.stdout.flush()
            await wait_for_stop_signal()

    _run(run)


def _demo_secret(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key())
    return path.read_text().strip()


@main.command()
def demo() -> None:
    """The whole product in one process on embedded defaults."""
    try:
        env_settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    secret = (
        env_settings.secret_key.get_secret_value()
        if env_settings.secret_key
        else _demo_secret(env_settings.data_dir)
    )
    settings = _settings(secret_key=secret)
    from billing.demo import run_demo

    async def run() -> None:
        await run_demo(settings, lambda text: click.echo(text, err=text.endswith("…")))

    _run(run)
    click.echo("stopped.", err=True)


if __name__ == "__main__":
    main()
