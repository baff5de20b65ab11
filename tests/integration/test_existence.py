"""Existence is never revealed: another fleet's object answers exactly like a missing one.

Every operation that takes an id (in its path, its query or its body) is called by every role
of one fleet with the id of an object it may not see and with an id nothing has; the two
answers must be the same, byte for byte.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing.db.pool import Pool
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]
ROLES = ("manager", "hr", "employee", "bound_manager")
ID = "{id}"


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    params: dict[str, str] | None = None
    json: Any = None

    def call(self, target: str) -> tuple[str, str, dict[str, str] | None, Any]:
        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace(ID, target)
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return self.method, fill(self.path), fill(self.params), fill(self.json)


def _ops(scene: Scene) -> dict[str, list[Op]]:
    """Operations per kind of object, `{id}` standing for the object's id."""
    fleet = str(scene.fleet.id)
    me = str(scene.me.id)
    tariff_body = {
        "price_per_kwh": "0.3",
        "currency": "EUR",
        "valid_from": "1990-01-01",
        "valid_to": "1990-02-01",
    }
    return {
        "fleet": [
            Op("GET", "/v1/fleets/{id}"),
            Op("GET", "/v1/fleets/{id}/summary"),
            Op("GET", "/v1/employees", {"fleet_id": ID}),
            Op("GET", "/v1/vehicles", {"fleet_id": ID}),
            Op("GET", "/v1/tariffs", {"fleet_id": ID}),
            Op("GET", "/v1/line-items", {"fleet_id": ID}),
            Op("GET", "/v1/charge-records", {"fleet_id": ID}),
            Op("POST", "/v1/employees", json={"fleet_id": ID, "external_ref": "x", "name": "x"}),
            Op("POST", "/v1/tariffs", json={"fleet_id": ID, **tariff_body}),
        ],
        "employee": [
            Op("GET", "/v1/employees/{id}"),
            Op("PATCH", "/v1/employees/{id}", json={"name": "Renamed"}),
            Op("GET", "/v1/connect/start", {"employee_id": ID}),
            Op("GET", "/v1/vehicles", {"employee_id": ID}),
            Op("GET", "/v1/tariffs", {"employee_id": ID}),
            Op("GET", "/v1/line-items", {"employee_id": ID}),
            Op("GET", "/v1/charge-records", {"employee_id": ID}),
            Op(
                "POST",
                "/v1/vehicles",
                json={"employee_id": ID, "smartcar_vehicle_id": "new-car", "make": "TESLA"},
            ),
            Op("POST", "/v1/tariffs", json={"fleet_id": fleet, "employee_id": ID, **tariff_body}),
        ],
        "vehicle": [
            Op("GET", "/v1/vehicles/{id}"),
            Op("POST", "/v1/vehicles/{id}/sync"),
            Op("GET", "/v1/line-items", {"vehicle_id": ID}),
            Op("GET", "/v1/charge-records", {"vehicle_id": ID}),
        ],
        "tariff": [
            Op("GET", "/v1/tariffs/{id}"),
            Op("POST", "/v1/tariffs/{id}/corrections/preview", json={"price_per_kwh": "0.5"}),
            Op("POST", "/v1/tariffs/{id}/corrections", json={"price_per_kwh": "0.5"}),
        ],
        "line_item": [
            Op("GET", "/v1/line-items/{id}"),
            Op("POST", "/v1/line-items/{id}/approve", json={"version": 1}),
            Op("POST", "/v1/line-items/{id}/reject", json={"version": 1, "reason": "r"}),
            Op("POST", "/v1/line-items/{id}/reopen", json={"version": 1, "reason": "r"}),
            Op(
                "POST",
                "/v1/line-items/decisions",
                json={"decisions": [{"id": ID, "decision": "approve", "version": 1}]},
            ),
        ],
        "audit": [
            Op("GET", "/v1/audit-events", {"entity": "employee", "entity_id": ID}),
        ],
        "reassignment": [
            Op("POST", "/v1/vehicle-reassignments/{id}/accept", json={}),
            Op("POST", "/v1/vehicle-reassignments/{id}/refuse", json={"reason": "no"}),
        ],
        "fleet_filter": [Op("GET", "/v1/vehicle-reassignments", {"fleet_id": ID})],
        "_own": [Op("GET", "/v1/employees/{id}".replace(ID, me))],
    }


@pytest.fixture
async def scene(factory: Factory) -> Scene:
    return await build_scene(factory)


async def _hidden(scene: Scene) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Ids of objects a key of the scene's fleet may not see: another fleet's, and for the
    employee role a colleague's too."""
    stranger = scene.stranger
    hidden = {
        "fleet": [str(scene.other_fleet.id)],
        "employee": [str(stranger.id)],
        "vehicle": [str(scene.vehicle_of(stranger).id)],
        "tariff": [str(scene.other_tariff.id)],
        "line_item": [str((await scene.pending(stranger, date(2024, 1, 1))).id)],
        "audit": [str(stranger.id)],
        "reassignment": [str(await _reassignment(scene))],
        "fleet_filter": [str(scene.other_fleet.id)],
    }
    colleague = scene.colleague
    employee = {kind: list(ids) for kind, ids in hidden.items()}
    employee["employee"].append(str(colleague.id))
    employee["vehicle"].append(str(scene.vehicle_of(colleague).id))
    employee["line_item"].append(str((await scene.pending(colleague, date(2024, 1, 2))).id))
    return hidden, employee


async def _reassignment(scene: Scene) -> uuid.UUID:
    """A pending reassignment in the other fleet (the stranger's car, asked for by a second
    employee of that fleet)."""
    pool = scene.items.pool
    other = await pool.fetchval(
        "INSERT INTO employees (fleet_id, external_ref, name) VALUES ($1, 'X-9', 'X') RETURNING id",
        scene.other_fleet.id,
    )
    connection = await pool.fetchval(
        "INSERT INTO smartcar_connections (employee_id, access_token_enc, refresh_token_enc,"
        " access_expires_at, refresh_issued_at) VALUES ($1, 'a', 'r', now(), now()) RETURNING id",
        other,
    )
    found: uuid.UUID = await pool.fetchval(
        "INSERT INTO vehicle_reassignments (fleet_id, vehicle_id, from_employee_id,"
        " to_employee_id, connection_id, requested_by) VALUES ($1, $2, $3, $4, $5, 'test')"
        " RETURNING id",
        scene.other_fleet.id,
        scene.vehicle_of(scene.stranger).id,
        scene.stranger.id,
        other,
        connection,
    )
    return found


async def _answer(client: Client, key: str, op: Op, target: str) -> tuple[int, bytes]:
    """The status and body, the id asked for written as `{id}` (an answer may name it)."""
    method, path, params, body = op.call(target)
    resp = await client.request(
        method,
        path,
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        allow_redirects=False,
    )
    return resp.status, (await resp.read()).replace(target.encode(), ID.encode())


async def test_another_fleets_object_answers_exactly_like_a_missing_one(
    client: Client, scene: Scene, pool: Pool
) -> None:
    differences = []
    calls = 0
    everyone, employee = await _hidden(scene)
    for role in ROLES:
        key = scene.keys[role]
        hidden = employee if role == "employee" else everyone
        for kind, ops in _ops(scene).items():
            for target in hidden.get(kind, []):
                for op in ops:
                    seen = await _answer(client, key, op, target)
                    missing = await _answer(client, key, op, str(uuid.uuid4()))
                    calls += 1
                    if seen != missing:
                        differences.append(
                            f"{role} {op.method} {op.path} {op.params or ''}:\n"
                            f"    hidden  {seen[0]} {seen[1]!r}\n    missing {missing[0]} "
                            f"{missing[1]!r}"
                        )
    assert calls > 100
    assert not differences, f"{len(differences)} differ:\n" + "\n".join(differences)
    # nothing was written through any of those calls
    assert await pool.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_a_vehicle_registered_in_another_fleet_is_a_plain_conflict(
    client: Client, scene: Scene, pool: Pool
) -> None:
    """The 409 says the Smartcar id is taken, exactly as for one in the caller's own fleet."""
    own = await pool.fetchval(
        "SELECT smartcar_vehicle_id FROM vehicles WHERE id = $1", scene.vehicle_of(scene.me).id
    )
    foreign = await pool.fetchval(
        "SELECT smartcar_vehicle_id FROM vehicles WHERE id = $1",
        scene.vehicle_of(scene.stranger).id,
    )
    answers = []
    for smartcar_id in (own, foreign):
        resp = await client.post(
            "/v1/vehicles",
            json={
                "employee_id": str(scene.colleague.id),
                "smartcar_vehicle_id": smartcar_id,
                "make": "TESLA",
            },
            headers={"Authorization": f"Bearer {scene.keys['manager']}"},
        )
        answers.append((resp.status, await resp.read()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 409
    assert b"fleet" not in answers[1][1]
    assert foreign.encode() not in answers[1][1]


async def test_database_constraint_texts_never_reach_a_response(
    client: Client, scene: Scene
) -> None:
    admin = {"Authorization": f"Bearer {scene.keys['admin']}"}
    # a tariff of one fleet for another fleet's employee: the foreign key refuses it
    resp = await client.post(
        "/v1/tariffs",
        json={
            "fleet_id": str(scene.fleet.id),
            "employee_id": str(scene.stranger.id),
            "price_per_kwh": "0.3",
            "currency": "EUR",
            "valid_from": "1990-01-01",
        },
        headers=admin,
    )
    text = await resp.text()
    assert resp.status == 422, text
    for leak in ("Key (", "violates", "constraint", "fkey", "DETAIL", "not present", "table"):
        assert leak not in text, text
    assert str(scene.stranger.id) not in text
