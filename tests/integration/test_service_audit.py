"""Every mutating use case of the master-data, decision and connect services, run through its
service function on a real database: exactly one audit event per effect, naming the entity,
the id, the action and the caller. (The month-end services: `test_service_audit_close.py`.)"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import aiohttp
import pytest
from yarl import URL

from billing.config import Settings
from billing.crypto import TokenCipher
from billing.db import apikeys
from billing.db.pool import connection
from billing.domain.access import Principal
from billing.domain.apikeys import ApiKeyCreate
from billing.domain.corrections import CorrectionBody
from billing.domain.decisions import Requested
from billing.domain.errors import Forbidden, InvalidData, NotFound
from billing.domain.models import (
    EmployeeCreate,
    EmployeeUpdate,
    FleetCreate,
    TariffCreate,
    VehicleCreate,
)
from billing.domain.statement_models import FleetSettingsBody
from billing.services import (
    api_keys,
    connect,
    corrections,
    decisions,
    employees,
    fleets,
    invitations,
    reassignments,
    tariffs,
    vehicles,
)
from billing.services.common import system
from billing.smartcar_sim import Simulator
from billing.sync.vehicle import SyncContext
from tests.audit_log import AuditLog, principal
from tests.conftest import SECRET_KEY
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

NOW = datetime(2025, 4, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


@pytest.fixture
async def log(scene: Scene) -> AuditLog:
    log = AuditLog(scene.items.pool)
    await log.skip()  # what building the scene wrote
    return log


async def who(scene: Scene, role: str) -> Principal:
    return await principal(scene.items.pool, scene.keys[role])


async def test_fleets(scene: Scene, log: AuditLog) -> None:
    pool, admin = scene.items.pool, await who(scene, "admin")
    fleet = await fleets.create_fleet(
        pool, admin, FleetCreate(name="North", currency="EUR", timezone="Europe/Berlin")
    )
    assert await log.new() == [("fleet", fleet.id, "create", admin.actor)]
    manager = await who(scene, "manager")
    body = FleetSettingsBody(statement_auto_finalize=True)
    await fleets.update_settings(pool, manager, scene.fleet.id, body)
    assert await log.new() == [("fleet", scene.fleet.id, "update", manager.actor)]
    with pytest.raises(Forbidden):
        await fleets.create_fleet(
            pool, manager, FleetCreate(name="South", currency="EUR", timezone="Europe/Berlin")
        )
    with pytest.raises(NotFound):
        await fleets.get_fleet(pool, manager, scene.other_fleet.id)
    assert await log.new() == []


async def test_employees(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    body = EmployeeCreate(fleet_id=scene.fleet.id, external_ref="HR-77", name="Mia")
    employee = await employees.create_employee(pool, manager, body)
    assert await log.new() == [("employee", employee.id, "create", manager.actor)]
    cap = EmployeeUpdate(monthly_cap=Decimal("80.00"))
    await employees.update_employee(pool, manager, employee.id, cap)
    assert await log.new() == [("employee", employee.id, "update", manager.actor)]

    hr, bound = await who(scene, "hr"), await who(scene, "bound_manager")
    with pytest.raises(Forbidden):
        await employees.create_employee(pool, hr, body.model_copy(update={"external_ref": "X"}))
    with pytest.raises(NotFound):
        await employees.update_employee(pool, manager, scene.stranger.id, cap)
    with pytest.raises(Forbidden):  # a key bound to `me` does not change `me`'s cap
        await employees.update_employee(pool, bound, scene.me.id, cap)
    assert await log.new() == []


async def test_vehicles(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    cipher = TokenCipher(SECRET_KEY)
    body = VehicleCreate(employee_id=scene.colleague.id, smartcar_vehicle_id="car-1", make="TESLA")
    vehicle = await vehicles.create_vehicle(pool, cipher, manager, body, now=NOW)
    assert await log.new() == [("vehicle", vehicle.id, "create", manager.actor)]
    # asking for a read soon schedules work and changes no data: nothing to audit
    await vehicles.request_sync(pool, manager, vehicle.id)
    assert await log.new() == []

    hr, employee = await who(scene, "hr"), await who(scene, "employee")
    with pytest.raises(Forbidden):
        await vehicles.request_sync(pool, hr, vehicle.id)
    with pytest.raises(NotFound):  # an employee does not see a colleague's car
        await vehicles.request_sync(pool, employee, vehicle.id)
    mine = body.model_copy(update={"employee_id": scene.me.id, "smartcar_vehicle_id": "c2"})
    with pytest.raises(Forbidden):
        await vehicles.create_vehicle(pool, cipher, employee, mine, now=NOW)
    assert await log.new() == []


async def test_tariffs_price_the_unpriced_days_each_with_its_event(
    scene: Scene, log: AuditLog
) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    record = await scene.items.charge_record(scene.vehicle_of(scene.colleague), date(2025, 3, 4))
    body = TariffCreate(
        fleet_id=scene.fleet.id,
        employee_id=scene.colleague.id,
        price_per_kwh=Decimal("0.25"),
        currency="EUR",
        valid_from=date(2025, 3, 1),
    )
    tariff = await tariffs.create_tariff(pool, manager, body)
    line_id = await pool.fetchval(
        "SELECT id FROM line_items WHERE charge_record_id = $1", record.id
    )
    assert await log.new() == [
        ("tariff", tariff.id, "create", manager.actor),
        ("line_item", line_id, "create", manager.actor),
    ]

    bound = await who(scene, "bound_manager")
    mine = body.model_copy(update={"employee_id": scene.me.id})
    with pytest.raises(Forbidden):  # a key bound to `me` does not price `me`'s days
        await tariffs.create_tariff(pool, bound, mine)
    with pytest.raises(InvalidData, match="EUR"):
        await tariffs.create_tariff(pool, manager, mine.model_copy(update={"currency": "CHF"}))
    assert await log.new() == []


async def test_api_keys(scene: Scene, log: AuditLog) -> None:
    pool, admin = scene.items.pool, await who(scene, "admin")
    body = ApiKeyCreate(role="hr", fleet_id=scene.fleet.id, name="payroll", expires_in="30d")
    created = await api_keys.create_api_key(pool, admin, body, now=datetime.now(UTC))
    issued = await principal(pool, created.key)
    assert await log.new() == [("api_key", issued.key_id, "create", admin.actor)]
    await api_keys.revoke_api_key(pool, admin, created.prefix)
    assert await log.new() == [("api_key", issued.key_id, "revoke", admin.actor)]
    await api_keys.revoke_api_key(pool, admin, created.prefix)  # revoked already: no change
    assert await log.new() == []

    manager = await who(scene, "manager")
    with pytest.raises(Forbidden):
        await api_keys.list_api_keys(pool, manager)
    with pytest.raises(Forbidden):
        await api_keys.create_api_key(pool, manager, body, now=NOW)
    with pytest.raises(Forbidden):
        await api_keys.revoke_api_key(pool, manager, created.prefix)
    assert await log.new() == []


async def test_a_command_line_caller_is_named_as_itself(scene: Scene, log: AuditLog) -> None:
    cli = system("cli")
    body = ApiKeyCreate(role="admin", name="ops")
    created = await api_keys.create_api_key(scene.items.pool, cli, body, now=NOW)
    issued = await principal(scene.items.pool, created.key)
    assert await log.new() == [("api_key", issued.key_id, "create", "cli")]


async def test_invitations(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    key = await invitations.invite_employee(pool, manager, scene.colleague.id, now=NOW)
    prefix = key.rpartition("_")[0]
    async with connection(pool) as conn:
        stored = {k.prefix: k for k in await apikeys.list_keys(conn)}
    assert stored[prefix].last_used_at is None  # issuing the key does not count as using it
    invited = await principal(pool, key)
    assert await log.new() == [("api_key", invited.key_id, "created", manager.actor)]


async def test_decisions(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    first = await scene.pending(scene.colleague, date(2025, 3, 1))
    second = await scene.pending(scene.colleague, date(2025, 3, 2))
    await log.skip()
    approved = await decisions.decide(
        pool, manager, [Requested(line.id, "approve", line.version) for line in (first, second)]
    )
    assert await log.new() == [
        ("line_item", first.id, "approve", manager.actor),
        ("line_item", second.id, "approve", manager.actor),
    ]
    await decisions.decide(pool, manager, [Requested(first.id, "reopen", approved[0].version)])
    assert await log.new() == [("line_item", first.id, "reopen", manager.actor)]


async def test_corrections(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    lines = [await scene.pending(scene.colleague, date(2025, 3, d)) for d in (2, 3)]
    await log.skip()
    body = CorrectionBody.model_validate(
        {"price_per_kwh": "0.32", "from": "2025-03-01", "to": "2025-03-10"}
    )
    await corrections.preview_correction(pool, manager, scene.tariff.id, body)
    assert await log.new() == []
    done = await corrections.apply_correction(pool, manager, scene.tariff.id, body)
    assert sorted(line.id for line in done.updated) == sorted(line.id for line in lines)
    assert await log.new() == [
        ("tariff", scene.tariff.id, "correct", manager.actor),
        *(("tariff", t.id, "create", manager.actor) for t in done.new_tariffs),
        *(("line_item", line.id, "restate", manager.actor) for line in done.updated),
    ]


async def test_reassignments(scene: Scene, log: AuditLog) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    car = scene.vehicle_of(scene.me)
    connection = await pool.fetchval(
        "INSERT INTO smartcar_connections (employee_id, access_token_enc, refresh_token_enc,"
        " access_expires_at, refresh_issued_at) VALUES ($1, 'a', 'r', now(), now()) RETURNING id",
        scene.colleague.id,
    )
    asked = await pool.fetchval(
        "INSERT INTO vehicle_reassignments (fleet_id, vehicle_id, from_employee_id,"
        " to_employee_id, connection_id, requested_by) VALUES ($1, $2, $3, $4, $5, 'test')"
        " RETURNING id",
        scene.fleet.id,
        car.id,
        scene.me.id,
        scene.colleague.id,
        connection,
    )
    bound = await who(scene, "bound_manager")
    with pytest.raises(Forbidden):  # the car moves away from `me`: not for `me`'s key
        await reassignments.decide_reassignment(pool, bound, asked, "accepted", now=NOW)
    await reassignments.decide_reassignment(pool, manager, asked, "accepted", now=NOW)
    assert await log.new() == [("vehicle", car.id, "reassigned", manager.actor)]


async def test_connect(
    scene: Scene, log: AuditLog, sim: Simulator, sync_settings: Settings, sync_ctx: SyncContext
) -> None:
    pool, manager = scene.items.pool, await who(scene, "manager")
    binding = connect.new_binding()
    start = await connect.start_connect(
        pool, sync_settings, manager, scene.colleague.id, binding=binding, now=datetime.now(UTC)
    )
    assert await log.new() == []
    consent = URL(start).update_query(sim_vehicles="2")
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(consent, allow_redirects=False) as response,
    ):
        callback = URL(response.headers["Location"])
    outcome = await connect.finish_connect(
        pool,
        TokenCipher(SECRET_KEY),
        sync_ctx.client,
        sync_settings,
        state=callback.query.get("state"),
        code=callback.query.get("code"),
        error=None,
        binding=binding,
        now=datetime.now(UTC),
    )
    assert outcome.status == 200, outcome.message
    connection = await pool.fetchval(
        "SELECT id FROM smartcar_connections WHERE employee_id = $1", scene.colleague.id
    )
    cars = await pool.fetch(
        "SELECT id FROM vehicles WHERE connection_id = $1 ORDER BY smartcar_vehicle_id",
        connection,
    )
    seen = await log.new()
    assert seen[0] == ("connection", connection, "create", manager.actor)
    assert sorted(seen[1:]) == sorted(("vehicle", c["id"], "link", manager.actor) for c in cars)
    assert len(cars) == 2
