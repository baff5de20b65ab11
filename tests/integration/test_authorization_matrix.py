"""Every endpoint x every role x own/other fleet x own/other employee.

Each endpoint states, per role and target, the one status it must answer; list endpoints also
state what their items may contain, so no cell hands out data it should not. Targets:
`me` (the employee the employee key and the bound manager key belong to), `colleague` (same
fleet, another employee), `stranger` (another fleet); fleet-level objects use `own`/`other`.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import ROLES, Scene, build_scene

Client = TestClient[Any, Any]
EMPLOYEES = ("me", "colleague", "stranger")
FLEETS = ("own", "other")
MANAGERS = ("admin", "manager", "bound_manager")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None


@dataclass
class World:
    scene: Scene
    days: itertools.count[int]

    def employee(self, target: str) -> Any:
        return {"me": self.scene.me, "colleague": self.scene.colleague}.get(
            target, self.scene.stranger
        )

    def fleet(self, target: str) -> Any:
        return self.scene.fleet if target == "own" else self.scene.other_fleet

    def day(self) -> date:
        return date(2024, 1, 1) + timedelta(days=next(self.days))


def sees(role: str, target: str) -> bool:
    """Whether `role` (a key of the scene's fleet) sees an object of `target`."""
    if role == "admin":
        return True
    if target in ("stranger", "other"):
        return False
    return role != "employee" or target in ("me", "own")


def read(ok: int = 200) -> Callable[[str, str], int]:
    return lambda role, target: ok if sees(role, target) else 404


def manage(ok: int = 200) -> Callable[[str, str], int]:
    def status(role: str, target: str) -> int:
        if not sees(role, target):
            return 404
        return ok if role in MANAGERS else 403

    return status


def manage_others(ok: int = 200) -> Callable[[str, str], int]:
    """Changing an employee's own data: never by a manager key bound to that employee."""

    def status(role: str, target: str) -> int:
        if sees(role, target) and role == "bound_manager" and target == "me":
            return 403
        return manage(ok)(role, target)

    return status


def decide(role: str, target: str) -> int:
    if not sees(role, target):
        return 404
    if role == "bound_manager" and target == "me":
        return 403  # a manager key bound to an employee never decides that employee's items
    return 200 if role in MANAGERS else 403


def not_employee(role: str, target: str) -> int:
    """Fleet-wide reads (audit log, change feed): never for the employee role."""
    if role == "employee":
        return 403
    return 200 if sees(role, target) else 404


def not_employee_of(role: str, target: str) -> int:
    """The same, for one object: existence is checked (404) before the role (403)."""
    if not sees(role, target):
        return 404
    return 403 if role == "employee" else 200


def manage_in_fleet(ok: int) -> Callable[[str, str], int]:
    """Creating for an employee, where the role is checked against the fleet first."""

    def status(role: str, target: str) -> int:
        if target == "stranger" and role != "admin":
            return 404
        if role == "bound_manager" and target == "me":
            return 403  # not for the employee the key is bound to
        return ok if role in MANAGERS else 403

    return status


def filtered(role: str, target: str) -> int:
    """Lists filtered by an employee: employees may only ask for themselves; others get their
    fleet's (so for a stranger, nothing), admins anyone's."""
    if role == "employee" and target != "me":
        return 404
    return 200


Build = Callable[[World, str], Awaitable[Call]]


@dataclass(frozen=True)
class Endpoint:
    name: str
    targets: tuple[str, ...]
    build: Build
    expect: Callable[[str, str], int]
    items: str | None = None  # the list key whose entries must all be visible to the role


def _static(method: str, path: str, **kw: Any) -> Build:
    async def build(world: World, target: str) -> Call:
        return Call(method, path, **kw)

    return build


async def _pending(world: World, target: str) -> Any:
    return await world.scene.pending(world.employee(target), world.day())


async def _approved(world: World, target: str) -> Any:
    scene = world.scene
    employee = world.employee(target)
    record = await scene.items.charge_record(scene.vehicle_of(employee), world.day())
    return await scene.items.line_item(record, scene.tariff_of(employee), status="approved")


def _employee_path(suffix: str = "", method: str = "GET", body: Any = None) -> Build:
    async def build(world: World, target: str) -> Call:
        return Call(method, f"/v1/employees/{world.employee(target).id}{suffix}", json=body)

    return build


def _vehicle_path(suffix: str = "", method: str = "GET") -> Build:
    async def build(world: World, target: str) -> Call:
        vehicle = world.scene.vehicle_of(world.employee(target))
        return Call(method, f"/v1/vehicles/{vehicle.id}{suffix}")

    return build


def _fleet_path(suffix: str = "") -> Build:
    async def build(world: World, target: str) -> Call:
        return Call("GET", f"/v1/fleets/{world.fleet(target).id}{suffix}")

    return build


def _fleet_filter(path: str) -> Build:
    async def build(world: World, target: str) -> Call:
        return Call("GET", path, params={"fleet_id": str(world.fleet(target).id)})

    return build


def _employee_filter(path: str) -> Build:
    async def build(world: World, target: str) -> Call:
        return Call("GET", path, params={"employee_id": str(world.employee(target).id)})

    return build


async def _create_employee(world: World, target: str) -> Call:
    body = {"fleet_id": str(world.fleet(target).id), "external_ref": uuid.uuid4().hex, "name": "N"}
    return Call("POST", "/v1/employees", json=body)


async def _create_vehicle(world: World, target: str) -> Call:
    body = {
        "employee_id": str(world.employee(target).id),
        "smartcar_vehicle_id": uuid.uuid4().hex,
        "make": "TESLA",
    }
    return Call("POST", "/v1/vehicles", json=body)


async def _create_fleet_tariff(world: World, target: str) -> Call:
    start = date(2000, 1, 1) + timedelta(days=2 * next(world.days))  # before any seeded tariff
    body = {
        "fleet_id": str(world.fleet(target).id),
        "price_per_kwh": "0.31",
        "currency": "EUR",
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=1)).isoformat(),
    }
    return Call("POST", "/v1/tariffs", json=body)


async def _create_employee_tariff(world: World, target: str) -> Call:
    employee = world.employee(target)
    start = date(2000, 1, 1) + timedelta(days=2 * next(world.days))  # before any seeded tariff
    body = {
        "fleet_id": str(employee.fleet_id),
        "employee_id": str(employee.id),
        "price_per_kwh": "0.31",
        "currency": "EUR",
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=1)).isoformat(),
    }
    return Call("POST", "/v1/tariffs", json=body)


async def _tariff(world: World, target: str) -> Call:
    tariff = world.scene.tariff if target == "own" else world.scene.other_tariff
    return Call("GET", f"/v1/tariffs/{tariff.id}")


async def _line_item(world: World, target: str) -> Call:
    return Call("GET", f"/v1/line-items/{(await _pending(world, target)).id}")


async def _approve(world: World, target: str) -> Call:
    item = await _pending(world, target)
    return Call("POST", f"/v1/line-items/{item.id}/approve", json={"version": 1})


async def _reject(world: World, target: str) -> Call:
    item = await _pending(world, target)
    return Call("POST", f"/v1/line-items/{item.id}/reject", json={"version": 1, "reason": "r"})


async def _reopen(world: World, target: str) -> Call:
    item = await _approved(world, target)
    return Call("POST", f"/v1/line-items/{item.id}/reopen", json={"version": 1, "reason": "r"})


async def _bulk(world: World, target: str) -> Call:
    item = await _pending(world, target)
    entry = {"id": str(item.id), "decision": "approve", "version": 1}
    return Call("POST", "/v1/line-items/decisions", json={"decisions": [entry]})


async def _connect(world: World, target: str) -> Call:
    employee_id = str(world.employee(target).id)
    return Call("GET", "/v1/connect/start", params={"employee_id": employee_id})


def _connect_status(role: str, target: str) -> int:
    if not sees(role, target):
        return 404
    if role == "hr":
        return 403
    return 409  # allowed, but the test settings configure no Smartcar application


def _only_admin(ok: int) -> Callable[[str, str], int]:
    return lambda role, target: ok if role == "admin" else 403


def _everyone(ok: int = 200) -> Callable[[str, str], int]:
    return lambda role, target: ok


FLEET_BODY = {"name": "New", "currency": "EUR", "timezone": "Europe/Berlin"}

ENDPOINTS = [
    Endpoint(
        "create fleet", ("-",), _static("POST", "/v1/fleets", json=FLEET_BODY), _only_admin(201)
    ),
    Endpoint("list fleets", ("-",), _static("GET", "/v1/fleets"), _everyone(), "items"),
    Endpoint("get fleet", FLEETS, _fleet_path(), read()),
    Endpoint("fleet summary", FLEETS, _fleet_path("/summary"), not_employee_of),
    Endpoint("create employee", FLEETS, _create_employee, manage(201)),
    Endpoint("list employees", ("-",), _static("GET", "/v1/employees"), _everyone(), "items"),
    Endpoint("list employees of", FLEETS, _fleet_filter("/v1/employees"), read(), "items"),
    Endpoint("get employee", EMPLOYEES, _employee_path(), read()),
    Endpoint(
        "patch employee",
        EMPLOYEES,
        _employee_path(method="PATCH", body={"name": "Renamed"}),
        manage_others(),
    ),
    Endpoint("create vehicle", EMPLOYEES, _create_vehicle, manage_others(201)),
    Endpoint("list vehicles", ("-",), _static("GET", "/v1/vehicles"), _everyone(), "items"),
    Endpoint("list vehicles of fleet", FLEETS, _fleet_filter("/v1/vehicles"), read(), "items"),
    Endpoint("list vehicles of", EMPLOYEES, _employee_filter("/v1/vehicles"), filtered, "items"),
    Endpoint("get vehicle", EMPLOYEES, _vehicle_path(), read()),
    Endpoint("sync vehicle", EMPLOYEES, _vehicle_path("/sync", "POST"), manage(202)),
    Endpoint("create fleet tariff", FLEETS, _create_fleet_tariff, manage(201)),
    Endpoint("create employee tariff", EMPLOYEES, _create_employee_tariff, manage_in_fleet(201)),
    Endpoint("list tariffs", ("-",), _static("GET", "/v1/tariffs"), _everyone(), "items"),
    Endpoint("list tariffs of fleet", FLEETS, _fleet_filter("/v1/tariffs"), read(), "items"),
    Endpoint("list tariffs of", EMPLOYEES, _employee_filter("/v1/tariffs"), filtered, "items"),
    Endpoint("get tariff", FLEETS, _tariff, read()),
    Endpoint("audit events", ("-",), _static("GET", "/v1/audit-events"), not_employee, "items"),
    Endpoint("list line items", ("-",), _static("GET", "/v1/line-items"), _everyone(), "items"),
    Endpoint("line items of fleet", FLEETS, _fleet_filter("/v1/line-items"), read(), "items"),
    Endpoint("line items of", EMPLOYEES, _employee_filter("/v1/line-items"), filtered, "items"),
    Endpoint("get line item", EMPLOYEES, _line_item, read()),
    Endpoint("approve", EMPLOYEES, _approve, decide),
    Endpoint("reject", EMPLOYEES, _reject, decide),
    Endpoint("reopen", EMPLOYEES, _reopen, decide),
    Endpoint("bulk decisions", EMPLOYEES, _bulk, decide),
    Endpoint("charge records", ("-",), _static("GET", "/v1/charge-records"), _everyone(), "items"),
    Endpoint(
        "charge records of fleet", FLEETS, _fleet_filter("/v1/charge-records"), read(), "items"
    ),
    Endpoint(
        "charge records of", EMPLOYEES, _employee_filter("/v1/charge-records"), filtered, "items"
    ),
    Endpoint("changes", ("-",), _static("GET", "/v1/changes"), not_employee, "changes"),
    Endpoint("changes of fleet", FLEETS, _fleet_filter("/v1/changes"), not_employee, "changes"),
    Endpoint("connect start", EMPLOYEES, _connect, _connect_status),
]


def owner(scene: Scene, entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """The fleet and employee an entry of any list belongs to."""
    fleet_of = {str(e.id): str(e.fleet_id) for e in (scene.me, scene.colleague, scene.stranger)}
    if "cursor" in entry:  # a change
        data = entry["data"] or {}
        employee = entry["id"] if entry["entity"] == "employee" else data.get("employee_id")
        return entry["fleet_id"], employee
    if "external_ref" in entry:  # an employee
        return entry["fleet_id"], entry["id"]
    if "timezone" in entry:  # a fleet
        return entry["id"], None
    employee = entry.get("employee_id")
    return entry.get("fleet_id") or fleet_of.get(employee or ""), employee


def leaks(role: str, scene: Scene, entries: list[dict[str, Any]]) -> list[str]:
    """Entries of a list answer that `role` must not see."""
    if role == "admin":
        return []
    found = []
    for entry in entries:
        fleet, employee = owner(scene, entry)
        if fleet != str(scene.fleet.id):
            found.append(f"{entry.get('id')} of fleet {fleet}")
        elif role == "employee" and employee not in (None, str(scene.me.id)):
            found.append(f"{entry.get('id')} of employee {employee}")
    return found


@pytest.fixture
async def world(factory: Factory) -> World:
    scene = await build_scene(factory)
    world = World(scene, itertools.count())
    # something to see in every list, in both fleets, for every employee
    for employee in (scene.me, scene.colleague, scene.stranger):
        await scene.pending(employee, date(2023, 6, 1))
        await scene.items.charge_record(scene.vehicle_of(employee), date(2023, 6, 2))
    await factory.tariff(scene.other_fleet, "0.2", employee=scene.stranger)
    await factory.tariff(scene.fleet, "0.2", employee=scene.colleague)
    return world


async def _audit_something(client: Client, world: World) -> None:
    """Audit events in both fleets, so the audit log and the feed have something to hide."""
    for key, employee in (
        (world.scene.keys["manager"], world.scene.colleague),
        (world.scene.other_manager, world.scene.stranger),
    ):
        resp = await client.patch(
            f"/v1/employees/{employee.id}",
            json={"name": "Audited"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert resp.status == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_matrix(client: Client, world: World, endpoint: Endpoint) -> None:
    await _audit_something(client, world)
    mismatches = []
    for role in ROLES:
        for target in endpoint.targets:
            call = await endpoint.build(world, target)
            resp = await client.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                headers={"Authorization": f"Bearer {world.scene.keys[role]}"},
                allow_redirects=False,
            )
            expected = endpoint.expect(role, target)
            body = await resp.read()
            if resp.status != expected:
                mismatches.append(f"{role:>13} x {target:<9} {resp.status} != {expected}: {body!r}")
                continue
            if resp.status >= 400:
                assert resp.content_type == "application/problem+json"
            if endpoint.items and resp.status == 200:
                entries = (await resp.json())[endpoint.items]
                leaked = leaks(role, world.scene, entries)
                if leaked:
                    mismatches.append(f"{role:>13} x {target:<9} leaks {leaked}")
    assert not mismatches, "\n".join(mismatches)


async def test_lists_are_not_empty_for_the_admin(client: Client, world: World) -> None:
    """Guards the matrix: its leak checks would pass trivially on empty lists."""
    await _audit_something(client, world)
    headers = {"Authorization": f"Bearer {world.scene.keys['admin']}"}
    for endpoint in ENDPOINTS:
        if endpoint.items and endpoint.targets == ("-",):
            call = await endpoint.build(world, "-")
            # the change feed waits for every open transaction on the server to end
            async with asyncio.timeout(20):
                while True:
                    resp = await client.get(call.path, headers=headers)
                    entries = (await resp.json())[endpoint.items]
                    fleets = {e.get("fleet_id", e.get("id")) for e in entries}
                    if len(fleets) >= 2 or endpoint.name == "charge records":
                        break
                    await asyncio.sleep(0.05)


async def test_refused_decisions_change_nothing(client: Client, world: World, pool: Pool) -> None:
    item = await _pending(world, "me")
    for role in ("hr", "employee", "bound_manager"):
        resp = await client.post(
            f"/v1/line-items/{item.id}/approve",
            json={"version": 1},
            headers={"Authorization": f"Bearer {world.scene.keys[role]}"},
        )
        assert resp.status == 403
    row = await pool.fetchrow("SELECT status, version FROM line_items WHERE id = $1", item.id)
    assert row is not None
    assert (row["status"], row["version"]) == ("pending", 1)
    events = await pool.fetchval("SELECT count(*) FROM audit_events WHERE entity_id = $1", item.id)
    assert events == 0


def test_the_leak_check_sees_leaks() -> None:
    """Guards the matrix: entries of another fleet or employee are caught for every shape."""
    fleet, other = uuid.uuid4(), uuid.uuid4()

    class FakeScene:
        pass

    scene: Any = FakeScene()
    scene.fleet = type("F", (), {"id": fleet})()
    me, colleague, stranger = (
        type("E", (), {"id": uuid.uuid4(), "fleet_id": f})() for f in (fleet, fleet, other)
    )
    scene.me, scene.colleague, scene.stranger = me, colleague, stranger
    own_record = {"id": "r1", "employee_id": str(me.id)}
    their_record = {"id": "r2", "employee_id": str(colleague.id)}
    foreign_record = {"id": "r3", "employee_id": str(stranger.id)}
    foreign_fleet = {"id": str(other), "timezone": "UTC"}
    change = {"cursor": "c", "entity": "line_item", "id": "x", "fleet_id": str(other), "data": {}}
    assert leaks("hr", scene, [own_record, their_record]) == []
    assert leaks("hr", scene, [foreign_record]) != []
    assert leaks("employee", scene, [their_record]) != []
    assert leaks("manager", scene, [foreign_fleet]) != []
    assert leaks("hr", scene, [change]) != []
    assert leaks("admin", scene, [foreign_record, change]) == []
