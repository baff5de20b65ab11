"""`billing sync` as a user runs it: JSON lines, exit status, logs without secrets."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.config import Settings
from billing.db.pool import Pool
from billing.smartcar_sim import Simulator
from tests.factories import Factory
from tests.integration.conftest import import_vehicle
from tests.integration.test_tokens import _env


async def _billing(settings: Settings, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing",
        *args,
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_sync_json_lines_and_exit_status(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet)
    employee = await factory.employee(fleet)
    user = sim.create_user(2)
    good = await import_vehicle(pool, employee, user, 0, expired=True)
    bad = await import_vehicle(pool, employee, sim.create_user(1), 0)

    code, out, err = await _billing(sync_settings, "sync", "--vehicle", str(good), "--json")
    assert code == 0, err
    (line,) = [json.loads(text) for text in out.splitlines()]
    assert line["vehicle_id"] == str(good)
    assert line["outcome"] == "ok"
    assert line["records"] > 0
    assert line["error"] is None

    sim.set_fault(sim.user(await _user_of(pool, bad)).vehicle_ids[0], "VEHICLE_STATE:ASLEEP", 1)
    code, out, err = await _billing(
        sync_settings, "sync", "--vehicle", str(good), "--vehicle", str(bad), "--json"
    )
    assert code == 3, err
    lines = {item["vehicle_id"]: item for item in map(json.loads, out.splitlines())}
    assert set(lines) == {str(good), str(bad)}
    assert lines[str(bad)]["outcome"] == "retry_later"
    error: dict[str, Any] = lines[str(bad)]["error"]
    assert error["type"] == "VEHICLE_STATE"
    assert error["code"] == "ASLEEP"
    assert error["request_id"]

    # the logs (stderr, JSON) carry request ids but never a token
    newest = sim.user(user.user_id)
    for secret in (
        user.access_token,
        user.refresh_token,
        newest.access_token,
        newest.refresh_token,
    ):
        assert secret
        assert secret not in err
        assert secret not in out


async def _user_of(pool: Pool, vehicle_id: Any) -> str:
    user_id: str = await pool.fetchval(
        "SELECT c.smartcar_user_id FROM vehicles v JOIN smartcar_connections c "
        "ON c.id = v.connection_id WHERE v.id = $1",
        vehicle_id,
    )
    return user_id


async def test_an_answer_that_cannot_be_stored_fails_its_vehicle_not_the_command(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()  # Europe/Berlin
    await factory.tariff(fleet)
    employee = await factory.employee(fleet)
    good = await import_vehicle(pool, employee, sim.create_user(1), 0)
    user = sim.create_user(1)
    bad = await import_vehicle(pool, employee, user, 0)
    day = datetime.now(ZoneInfo("Europe/Berlin")).date() - timedelta(days=2)
    # 150 records of one 9,999 kWh day, each a little different: added up they would not
    # even fit the column.
    sim.set_records(
        user.vehicle_ids[0],
        [
            {
                "date": f"{day.isoformat()}T00:00:00.000Z",
                "home": 9999,
                "other": 0,
                "superCharger": 0,
                "total": float(Decimal(9999) + Decimal(n) / 1000),
            }
            for n in range(150)
        ],
    )
    code, out, err = await _billing(
        sync_settings, "sync", "--vehicle", str(good), "--vehicle", str(bad), "--json"
    )
    assert code == 3, err
    assert "Traceback" not in err
    lines = {item["vehicle_id"]: item for item in map(json.loads, out.splitlines())}
    assert lines[str(good)]["outcome"] == "ok"
    assert lines[str(bad)]["outcome"] == "failed"
    assert lines[str(bad)]["error"]["code"] == "CONFLICTING_DAY"
    assert (
        await pool.fetchval("SELECT count(*) FROM charge_records WHERE vehicle_id = $1", bad) == 0
    )
    state = await pool.fetchrow("SELECT sync_state, not_before FROM vehicles WHERE id = $1", bad)
    assert state is not None
    assert state["sync_state"] == "failed"
    assert state["not_before"] is not None  # not read again on every tick


async def test_sync_usage_errors_exit_2(sync_settings: Settings) -> None:
    for args in (("sync",), ("sync", "--all", "--vehicle", "1"), ("sync", "--vehicle", "nope")):
        code, _, err = await _billing(sync_settings, *args)
        assert code == 2, (args, err)


async def test_sync_without_tty_prints_one_line_per_vehicle_not_ok(
    sync_settings: Settings, sim: Simulator, pool: Pool, factory: Factory
) -> None:
    fleet = await factory.fleet()
    await factory.tariff(fleet)
    employee = await factory.employee(fleet)
    good = await import_vehicle(pool, employee, sim.create_user(1), 0)
    bad = await import_vehicle(pool, employee, sim.create_user(1), 0)
    sim.set_fault(sim.user(await _user_of(pool, bad)).vehicle_ids[0], "VEHICLE_STATE:ASLEEP", 1)

    code, out, err = await _billing(
        sync_settings, "sync", "--vehicle", str(good), "--vehicle", str(bad)
    )
    assert code == 3, err
    assert out == ""
    failures = [line for line in err.splitlines() if line.startswith(str(bad))]
    assert len(failures) == 1, err
    assert failures[0].startswith(f"{bad}: retry_later: VEHICLE_STATE:ASLEEP")
    assert not any(line.startswith(str(good)) for line in err.splitlines())
    assert "2 vehicle(s) read: 1 ok, 1 not ok" in err
