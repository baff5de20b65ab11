"""The `billing` command."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from uuid import UUID

import click

from billing.config import ConfigError, Settings, load_settings, unknown_variables
from billing.crypto import new_key
from billing.db.embedded import EmbeddedMissing, resolve_dsn, stop_embedded_servers
from billing.db.migrations import require_head, upgrade_async
from billing.db.pool import Pool, create_pool, transaction
from billing.db.server import DatabaseUnavailable
from billing.domain.access import ROLES, Role
from billing.domain.errors import DomainError
from billing.observability import configure_logging

T = TypeVar("T")
log = logging.getLogger("billing")


def _settings(**overrides: object) -> Settings:
    for warning in unknown_variables():
        click.echo(warning, err=True)
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
    except (DomainError, DatabaseUnavailable, EmbeddedMissing) as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stop_embedded_servers()


async def open_pool(settings: Settings, *, max_size: int) -> Pool:
    """A pool on the configured database, whose schema must be at head."""
    pool = await create_pool(await resolve_dsn(settings), min_size=1, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await require_head(conn)
    except BaseException:
        await pool.close()
        raise
    return pool


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
    from billing.app import create_app
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


@main.command("rotate-secret-key")
def rotate_secret_key() -> None:
    """Re-encrypt every stored Smartcar token under BILLING_SECRET_KEY's first key."""
    settings = _settings()
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
            async with pool.acquire() as conn:
                return await vehicles.rotate_tokens(
                    conn, cipher, lambda done: click.echo(f"{done} connection(s)…", err=True)
                )
        finally:
            await pool.close()

    result = _run(run)
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


@main.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--fleet", "fleet_id", type=click.UUID, help="the fleet the key is bound to")
@click.option("--employee", "employee_id", type=click.UUID, help="the employee it acts for")
@click.option("--name", help="a label to recognise the key by")
@click.option("--expires-in", help="lifetime such as 30d, 12h, 90m or 2w (default: never)")
def apikey_create(
    role: Role,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    name: str | None,
    expires_in: str | None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from billing.domain.apikeys import check_binding, parse_duration

    try:
        check_binding(role, fleet_id, employee_id)
        lifetime = parse_duration(expires_in) if expires_in else None
    except DomainError as exc:
        raise click.UsageError(exc.message) from None
    settings = _settings()
    from billing.db import apikeys

    async def run() -> str:
        pool = await open_pool(settings, max_size=1)
        try:
            async with transaction(pool) as conn:
                return await apikeys.create_key(
                    conn,
                    role=role,
                    fleet_id=fleet_id,
                    employee_id=employee_id,
                    name=name,
                    expires_at=datetime.now(UTC) + lifetime if lifetime else None,
                    actor="cli",
                )
        finally:
            await pool.close()

    click.echo(_run(run))


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per key")
def apikey_list(as_json: bool) -> None:
    """List every key (prefix, role, binding, expiry, last use; never the secret)."""
    settings = _settings()
    from billing.db import apikeys
    from billing.domain.apikeys import ApiKey

    async def run() -> list[ApiKey]:
        pool = await open_pool(settings, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await apikeys.list_keys(conn)
        finally:
            await pool.close()

    keys = _run(run)
    if as_json:
        for key in keys:
            click.echo(key.model_dump_json())
        return
    click.echo(f"{'PREFIX':<20} {'ROLE':<9} {'STATE':<8} {'EXPIRES':<17} {'LAST USED':<17} NAME")
    now = datetime.now(UTC)
    for key in keys:
        state = (
            "revoked"
            if key.revoked_at
            else "expired"
            if key.expires_at and key.expires_at <= now
            else "active"
        )
        click.echo(
            f"{key.prefix:<20} {key.role:<9} {state:<8} {_when(key.expires_at):<17}"
            f" {_when(key.last_used_at):<17} {key.name or ''}"
        )


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if value else "-"


@apikey.command("revoke")
@click.argument("prefix")
def apikey_revoke(prefix: str) -> None:
    """Revoke the key whose public prefix (fb_<role>_<8 chars>) is PREFIX, at once."""
    # a whole key pasted by mistake: its prefix is everything before the last underscore
    prefix = prefix.rpartition("_")[0] if prefix.count("_") > 2 else prefix
    settings = _settings()
    from billing.db import apikeys

    async def run() -> None:
        pool = await open_pool(settings, max_size=1)
        try:
            async with transaction(pool) as conn:
                await apikeys.revoke(conn, prefix, actor="cli")
        finally:
            await pool.close()

    _run(run)
    click.echo(f"revoked {prefix}")


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
                    if url is not None:
                        log.info("worker health and metrics on %s/healthz, %s/metrics", url, url)
                    worker = Worker(ctx, metrics)
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
    from billing.runtime import wait_for_stop_signal
    from billing.smartcar.sim import SimulatorOptions, run_simulator

    options = SimulatorOptions(
        vehicles=vehicles,
        seed=seed,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        vehicle_min_interval_s=vehicle_min_interval_s,
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
