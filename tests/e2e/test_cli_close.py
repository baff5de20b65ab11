"""`billing statements close` and `billing export` as an operator runs them, and the worker's
month-end job under its advisory lock."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billing.config import Settings
from billing.db.pool import Pool
from billing.documents.exports import parse_csv
from billing.services.month_end import run_month_end
from tests.close_scene import MARCH, approved_days
from tests.factories import Factory
from tests.line_item_factories import build_scene


async def _billing(settings: Settings, *args: str) -> tuple[int, bytes, str]:
    assert settings.database_url is not None
    env = {**os.environ, "BILLING_DATABASE_URL": settings.database_url.get_secret_value()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


async def test_close_then_export_by_hand(
    settings: Settings, factory: Factory, pool: Pool, tmp_path: Path
) -> None:
    scene = await build_scene(factory)
    await approved_days(scene, scene.me.id, [1, 2])
    await approved_days(scene, scene.colleague.id, [3])
    fleet = str(scene.fleet.id)

    code, _, err = await _billing(
        settings, "statements", "close", "--fleet", fleet, "--period", "2025-3"
    )
    assert code == 2, err
    assert "YYYY-MM" in err
    code, _, err = await _billing(
        settings, "statements", "close", "--fleet", fleet, "--period", MARCH, "--finalize"
    )
    assert code == 0, err
    assert "2 draft(s) created" in err
    assert "2 finalized" in err
    assert "2 PDF(s) rendered" in err

    out_file = tmp_path / "march.csv"
    code, _, err = await _billing(
        settings, "export", "--fleet", fleet, "--format", "csv", "-o", str(out_file)
    )
    assert code == 0, err
    rows = parse_csv(out_file.read_bytes())
    assert sum((row.amount for row in rows), Decimal(0)) == Decimal("9.45")
    code, _, err = await _billing(settings, "export", "--fleet", fleet, "--format", "csv")
    assert code == 1
    assert "already in an export" in err
    code, _, err = await _billing(settings, "export", "--fleet", fleet, "--format", "datev-lodas")
    assert code == 1
    assert "datev.consultant_number" in err


async def test_month_end_job_runs_once_under_its_lock(pool: Pool, factory: Factory) -> None:
    scene = await build_scene(factory)
    await approved_days(scene, scene.me.id, [1, 2])
    await pool.execute(
        "UPDATE fleets SET statement_auto_finalize = true WHERE id = $1", scene.fleet.id
    )
    early = datetime(2025, 4, 3, 12, 0, tzinfo=UTC)  # 3 April in Berlin: grace not over
    assert await run_month_end(pool, now=early, grace_days=3) == []
    due = datetime(2025, 4, 4, 0, 30, tzinfo=UTC)  # 4 April 02:30 in Berlin
    results = await asyncio.gather(*(run_month_end(pool, now=due, grace_days=3) for _ in range(3)))
    ran = [r for r in results if r is not None]
    assert sum(len(r) for r in ran) == 1  # the others found the job taken (or nothing left)
    statuses = await pool.fetch(
        "SELECT status, number FROM statements WHERE fleet_id = $1", scene.fleet.id
    )
    assert [(s["status"], s["number"]) for s in statuses] == [("finalized", "S-2025-00001")]
    assert await pool.fetchval("SELECT count(*) FROM document_pdfs") == 1
