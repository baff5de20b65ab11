"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

The application runs on a real socket in a thread of its own, against a clone of the test
template with a seeded fleet; schemathesis generates requests for every operation and checks
that none answers 5xx and every answer matches the document.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, reject, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from billing.api.app import create_app
from billing.api.keys import OPENAPI
from billing.config import load_settings
from billing.db.dsn import with_database
from billing.db.pool import create_pool
from tests.conftest import SECRET_KEY, _admin
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

MAX_EXAMPLES = 25


@dataclass
class LiveApi:
    base_url: str
    admin_key: str
    # path parameter values that exist, per path prefix, so requests reach past the 404
    known: dict[str, list[str]] = field(default_factory=dict)


async def _seed(dsn: str) -> tuple[Scene, dict[str, list[str]]]:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        scene = await build_scene(Factory(pool))
        items = [await scene.pending(scene.me, date(2025, 3, day)) for day in range(1, 6)]
        items.append(await scene.pending(scene.colleague, date(2025, 3, 1)))
        await scene.items.charge_record(scene.vehicle_of(scene.me), date(2025, 3, 20))
        vehicles = [str(v.id) for v in scene.vehicles.values()]
        known = {
            "/v1/fleets/": [str(scene.fleet.id), str(scene.other_fleet.id)],
            "/v1/employees/": [str(e.id) for e in (scene.me, scene.colleague, scene.stranger)],
            "/v1/vehicles/": vehicles,
            "/v1/tariffs/": [str(scene.tariff.id), str(scene.other_tariff.id)],
            "/v1/line-items/": [str(item.id) for item in items],
        }
        return scene, known
    finally:
        await pool.close()


class _ServerThread:
    """The application on 127.0.0.1 with its own event loop, stopped by `stop()`."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> int:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)

    async def _start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port: int = self.runner.addresses[0][1]
        return port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def live_api(server_dsn: str, template_db: str) -> Iterator[LiveApi]:
    name = f"billing_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    dsn = with_database(server_dsn, name)
    try:
        scene, known = asyncio.run(_seed(dsn))
        settings_ = load_settings(database_url=dsn, secret_key=SECRET_KEY, log_format="json")
        server = _ServerThread(create_app(settings_))
        port = server.start()
        try:
            yield LiveApi(f"http://127.0.0.1:{port}", scene.keys["admin"], known)
        finally:
            server.stop()
    finally:
        asyncio.run(_admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _document() -> dict[str, Any]:
    # The document the app serves is built by create_app alone, without a database; the
    # test checks that the running app serves exactly this one.
    app = create_app(load_settings(database_url="postgresql://unused/x", secret_key=SECRET_KEY))
    return app[OPENAPI]


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# Deterministic, so CI sees the same cases every run; the key is sent by the test itself,
# so cases that tamper with Authorization would be overwritten and misjudged.
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, deterministic=True, with_security_parameters=False
)


def _known_id(case: Case[Any], live_api: LiveApi) -> None:
    """Point about half the cases with an `{id}` at an object that exists.

    Chosen from the generated id itself, so a failing example replays identically.
    """
    if case.meta is None or case.meta.generation.mode.is_negative:
        return  # invalid ids must stay invalid
    generated = str((case.path_parameters or {}).get("id", ""))
    digest = hashlib.sha256(generated.encode()).digest()
    if not generated or digest[0] % 2:
        return
    for prefix, ids in live_api.known.items():
        if case.path.startswith(prefix):
            case.path_parameters = {**(case.path_parameters or {}), "id": ids[digest[1] % len(ids)]}
            return


def _lost_in_transit(case: Case[Any]) -> bool:
    """An invalid query value that never reaches the server (an empty list or object is not
    serialised at all) leaves a valid request, which a server rightly accepts."""
    if case.meta is None or not case.meta.generation.mode.is_negative:
        return False
    return any(value in ([], {}) for value in (case.query or {}).values())


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_within_its_document(case: Case[Any], live_api: LiveApi) -> None:
    if _lost_in_transit(case):
        reject()
    _known_id(case, live_api)
    case.call_and_validate(
        base_url=live_api.base_url,
        headers={"Authorization": f"Bearer {live_api.admin_key}"},
        checks=CHECKS,
    )


def test_the_fuzzed_document_is_the_served_one(live_api: LiveApi) -> None:
    served = requests.get(f"{live_api.base_url}/v1/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(DOCUMENT))
