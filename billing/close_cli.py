"""`billing statements close` and `billing export`: the month-end close by hand."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from uuid import UUID

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from billing.config import Settings
from billing.db.embedded import resolve_dsn
from billing.db.pool import create_pool
from billing.domain.statement_models import ExportFormat
from billing.services import exports, month_end
from billing.services.common import system

CLI = system("cli")


async def close_command(settings: Settings, fleet_id: UUID, period: str, finalize: bool) -> str:
    pool = await create_pool(await resolve_dsn(settings), max_size=4)
    try:
        await month_end.fleet_exists(pool, fleet_id)
        progress = Progress(
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not sys.stderr.isatty(),
        )
        tasks: dict[str, TaskID] = {}

        def step(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = progress.add_task(what, total=total)
            progress.update(tasks[what], completed=done, total=total)

        with progress:
            report = await month_end.close_period(
                pool,
                CLI,
                fleet_id=fleet_id,
                period=period,
                finalize=finalize,
                now=datetime.now(UTC),
                step=step,
            )
        counts = report.drafts
        return (
            f"{period}: {counts.created} draft(s) created, {counts.refreshed} refreshed,"
            f" {counts.unchanged} unchanged; {report.finalized} finalized;"
            f" {report.pdfs} PDF(s) rendered"
        )
    finally:
        await pool.close()


async def export_command(
    settings: Settings, fleet_id: UUID, format: ExportFormat
) -> tuple[bytes, str]:
    """The stored file of a new export, and a line saying what it holds."""
    pool = await create_pool(await resolve_dsn(settings), max_size=2)
    try:
        made = await exports.create_export(
            pool, CLI, fleet_id=fleet_id, format=format, now=datetime.now(UTC)
        )
        stored = await exports.get_export_file(pool, CLI, made.id)
    finally:
        await pool.close()
    return stored.content, (
        f"export {made.id}: {made.documents} document(s), total {made.total}"
        f" {made.currency or '(mixed currencies)'}, sha256 {made.sha256}"
    )
