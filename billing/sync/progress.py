"""`billing sync`: one pass with a progress bar on a TTY, or JSON lines with --json."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import nullcontext
from uuid import UUID

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from billing.config import Settings
from billing.db.embedded import resolve_dsn
from billing.db.migrations import require_head
from billing.db.pool import connection, create_pool
from billing.observability import logs_through, new_request_id, request_context
from billing.sync.outcomes import SyncResult
from billing.sync.runner import due_count, run_pass, sync_context


async def run_sync_command(settings: Settings, only: list[UUID] | None, *, as_json: bool) -> bool:
    """Run the pass; True when every vehicle's outcome is ok."""
    pool = await create_pool(await resolve_dsn(settings), max_size=4)
    try:
        async with connection(pool) as conn:
            await require_head(conn)
    except BaseException:
        await pool.close()
        raise
    try:
        async with sync_context(settings, pool) as ctx:
            total = len(set(only)) if only else await due_count(ctx, None)
            show_bar = sys.stderr.isatty() and not as_json
            if show_bar:
                # The bar shows progress; per-vehicle info lines would scroll it away.
                logging.getLogger().setLevel(logging.WARNING)
            progress = Progress(
                TextColumn("syncing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/min"),
                TextColumn("failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                disable=not show_bar,
                transient=False,
            )
            failed = 0
            with progress, logs_through(progress.console) if show_bar else nullcontext():
                task = progress.add_task("sync", total=total, rate=0.0, failed=0)

                def report(result: SyncResult) -> None:
                    nonlocal failed
                    failed += result.outcome != "ok"
                    progress.advance(task)
                    elapsed = progress.tasks[0].elapsed or 0.0
                    done = progress.tasks[0].completed
                    rate = done / elapsed * 60 if elapsed else 0.0
                    progress.update(task, rate=rate, failed=failed)
                    if as_json:
                        print(json.dumps(result.to_json()), flush=True)
                    elif not show_bar and result.outcome != "ok":
                        print(failure_line(result), file=sys.stderr, flush=True)

                with request_context(f"sync-{new_request_id()}"):
                    outcome = await run_pass(ctx, only=only, on_result=report)
            if not as_json:
                ok = len(outcome.results) - outcome.failures
                print(
                    f"{len(outcome.results)} vehicle(s) read: {ok} ok, {outcome.failures} not ok",
                    file=sys.stderr,
                )
            return outcome.failures == 0
    finally:
        await pool.close()


def failure_line(result: SyncResult) -> str:
    """`<vehicle id>: <outcome>: <reason>` for a vehicle that was not read ok."""
    error = result.error or {}
    kind = ":".join(str(part) for part in (error.get("type"), error.get("code")) if part)
    reason = error.get("description") or kind or "no reason recorded"
    if kind and kind not in reason:
        reason = f"{kind} ({reason})"
    return f"{result.vehicle_id}: {result.outcome}: {reason}"
