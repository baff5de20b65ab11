"""The `billing` command."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from pathlib import Path
from typing import Literal
from uuid import UUID

import click

from billing.cli_keys import apikey
from billing.cli_support import command_settings, open_pool, run_command
from billing.config import ConfigError, load_settings
from billing.crypto import new_key
from billing.db.embedded import resolve_dsn
from billing.db.migrations import upgrade_async
from billing.db.pool import connection, create_pool
from billing.observability import configure_logging

log = logging.getLogger("billing")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleet-billing")
def main() -> None:
    """Reimburses employees for charging their electric company cars at home."""


main.add_command(apikey)


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision (safe to repeat)."""
    settings = command_settings()

    async def run() -> None:
        await upgrade_async(await resolve_dsn(settings))

    run_command(run)
    click.echo("schema is at head")


@main.command()
def serve() -> None:
    """Serve the HTTP API and web pages."""
    settings = command_settings()
    if settings.secret_key is None:
        raise click.ClickException(
            "BILLING_SECRET_KEY is required (generate one with `billing secret-key`)"
        )
    from billing.app import create_app
    from billing.runtime import serving, stop_signals

    async def run() -> None:
        with stop_signals() as stop:
            async with serving(create_app(settings), settings.host, settings.port) as url:
                log.info("serving on %s", url)
                await stop.wait()

    run_command(run)


@main.command("secret-key")
def secret_key() -> None:
    """Print a new key for BILLING_SECRET_KEY."""
    click.echo(new_key())


@main.command("rotate-secret-key")
def rotate_secret_key() -> None:
    """Re-encrypt every stored Smartcar token under BILLING_SECRET_KEY's first key."""
    settings = command_settings()
    if settings.secret_key is None:
        raise click.ClickException(
            "BILLING_SECRET_KEY is required: the new key first, then the old one(s)"
        )
    from billing.crypto import TokenCipher
    from billing.db import vehicles

    cipher = TokenCipher(settings.secret_key.get_secret_value())

    async def run() -> vehicles.Rotated:
        pool = await create_pool(await resolve_dsn(settings), min_size=1, max_size=1)
        try:
            async with connection(pool) as conn:
                return await vehicles.rotate_tokens(
                    conn, cipher, lambda done: click.echo(f"{done} connection(s)…", err=True)
                )
        finally:
            await pool.close()

    result = run_command(run)
    click.echo(
        f"re-encrypted {result.rotated} connection(s) under the first key of BILLING_SECRET_KEY"
    )
    if result.unreadable:
        ids = ", ".join(str(i) for i in result.unreadable[:5])
        more = "…" if len(result.unreadable) > 5 else ""
        raise click.ClickException(
            f"{len(result.unreadable)} connection(s) decrypt with none of BILLING_SECRET_KEY's "
            f"keys and were left as they are ({ids}{more}); add the key that encrypted them"
        )


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
    settings = command_settings()
    if settings.secret_key is None:
        raise click.ClickException(
            "BILLING_SECRET_KEY is required to read Smartcar tokens (the one the API uses)"
        )
    from billing.sync.progress import run_sync_command

    ok = run_command(lambda: run_sync_command(settings, list(vehicles) or None, as_json=as_json))
    sys.exit(0 if ok else 3)


@main.command()
def worker() -> None:
    """Scheduled work: syncing vehicles and token upkeep, until SIGINT/SIGTERM."""
    settings = command_settings()
    if settings.secret_key is None:
        raise click.ClickException("BILLING_SECRET_KEY is required to read Smartcar tokens")
    from billing.runtime import stop_signals
    from billing.sync.metrics import SyncMetrics, worker_status
    from billing.sync.runner import sync_context
    from billing.sync.worker import Worker

    async def run() -> None:
        pool = await open_pool(settings, max_size=4)
        try:
            async with sync_context(settings, pool) as ctx:
                metrics = SyncMetrics()
                metrics.attach(ctx)
                port = settings.worker_port
                async with worker_status(ctx, metrics, settings.host, port) as url:
                    with stop_signals() as stop:
                        if url is not None:
                            log.info(
                                "worker health and metrics on %s/healthz, %s/metrics", url, url
                            )
                        worker = Worker(ctx, metrics)
                        task = asyncio.create_task(worker.run())
                        await stop.wait()
                        worker.stop.set()
                        await task
        finally:
            await pool.close()

    run_command(run)


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
    settings = command_settings()
    from billing.close_cli import close_command

    click.echo(run_command(lambda: close_command(settings, fleet_id, period, finalize)), err=True)


@main.command("export")
@click.option("--fleet", "fleet_id", type=click.UUID, required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "datev-lodas"]), required=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="file to write"
)
def export(fleet_id: UUID, fmt: Literal["csv", "datev-lodas"], output: Path | None) -> None:
    """A payroll export of everything finalized and not yet exported (stdout without -o)."""
    settings = command_settings()
    from billing.close_cli import export_command

    content, summary = run_command(lambda: export_command(settings, fleet_id, fmt))
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
@click.option(
    "--vehicle-min-interval-s",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 86_400),
    help="throttle a vehicle read again sooner than this (Smartcar publishes no such limit)",
)
def smartcar_sim(
    host: str,
    port: int,
    vehicles: int,
    seed: int,
    latency_ms: float,
    fault_rate: float,
    vehicle_min_interval_s: float,
) -> None:
    """Run the Smartcar simulator (Connect, tokens, vehicles, charge records)."""
    configure_logging(load_settings().log_format)
    from billing.runtime import stop_signals
    from billing.smartcar_sim import SimulatorOptions, run_simulator

    options = SimulatorOptions(
        vehicles=vehicles,
        seed=seed,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        vehicle_min_interval_s=vehicle_min_interval_s,
    )

    async def run() -> None:
        async with run_simulator(options, host=host, port=port) as sim:
            with stop_signals() as stop:
                click.echo(f"Smartcar simulator on {sim.url} ({vehicles} vehicles, seed {seed})")
                click.echo(
                    f"  pre-issued tokens: {sim.url}/sim/users   counters: {sim.url}/sim/stats"
                )
                sys.stdout.flush()
                await stop.wait()

    run_command(run)


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
    settings = command_settings(secret_key=secret)
    from billing.demo import run_demo

    async def run() -> None:
        await run_demo(settings, lambda text: click.echo(text, err=text.endswith("…")))

    run_command(run)
    click.echo("stopped.", err=True)


if __name__ == "__main__":
    main()
