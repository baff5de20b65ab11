"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

The application runs on a real socket in a thread of its own, against a clone of the test
template with a seeded fleet; schemathesis generates requests for every operation and checks
that none answers 5xx and every answer matches the document.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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

from billing.api.keys import OPENAPI
from billing.app import create_app
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


# Hostile input the generator does not make on its own: each once answered 500 somewhere.
DEPTH = 1000
HOSTILE_TEXT = ["a\u0000b", "\u0000"]
HOSTILE_MONEY = ["\u0663", "\uff13", "-0", "3_0", "1e2", "+1"]
HOSTILE_CURSORS = [
    base64.urlsafe_b64encode(json.dumps([when, str(uuid.uuid4())]).encode()).decode()
    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01T00:00:00")
] + [str(2**63), str(2**64), "\u0663"]


def _body_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, properties) of every operation taking a JSON body."""
    schemas = DOCUMENT["components"]["schemas"]
    found = []
    for path, entry in DOCUMENT["paths"].items():
        for method, op in entry.items():
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            name = ref.get("schema", {}).get("$ref", "").rpartition("/")[2]
            if name:
                found.append((method.upper(), path, schemas[name].get("properties", {})))
    return found


def _hostile_requests(live_api: LiveApi) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, requests kwargs) for every hostile case over the whole document."""

    def concrete(path: str) -> str:
        for prefix, ids in live_api.known.items():
            if path.startswith(prefix):
                return path.replace("{id}", ids[0])
        return path

    for method, path, properties in _body_operations():
        url = live_api.base_url + concrete(path)
        for raw in ("[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH):
            yield method, url, {"data": raw, "headers": {"Content-Type": "application/json"}}
        for name, prop in properties.items():
            values = [*HOSTILE_TEXT, *HOSTILE_MONEY, "localtime", "..", "../user"]
            for value in values:
                yield method, url, {"json": {name: value}}
            if prop.get("type") == "array":
                yield method, url, {"json": {name: [{"id": "\u0000"}]}}
    for path, entry in DOCUMENT["paths"].items():
        if "get" not in entry:
            continue
        url = live_api.base_url + concrete(path)
        for parameter in entry["get"].get("parameters", []):
            if parameter["in"] != "query":
                continue
            for value in [*HOSTILE_TEXT, *HOSTILE_CURSORS, "localtime"]:
                yield "GET", url, {"params": {parameter["name"]: value}}
    for garbage in (b"\xff\xfe", b"caf\xc3\xa9", b"\x80\x00"):
        yield "GET", live_api.base_url + "/v1/fleets", {"raw_key": garbage}
    for state in _signed_states():
        yield "GET", live_api.base_url + "/v1/connect/callback", {"params": {"state": state}}


def _signed_states() -> list[str]:
    from billing.crypto import _state_keys

    def sign(payload: Any) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
        mac = hmac.new(_state_keys(SECRET_KEY)[0], body, hashlib.sha256).digest()
        return f"{body.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    return [
        sign(["list"]),
        sign({"nonce": "n", "exp": 9999999999}),
        sign({"employee_id": "nope", "nonce": "n", "exp": 9999999999}),
        sign({"employee_id": str(uuid.uuid4()), "nonce": "n", "exp": "later"}),
        sign({"employee_id": str(uuid.uuid4()), "nonce": 5, "exp": 9999999999}),
    ]


def _raw_get(url: str, key: bytes) -> int:
    """A GET whose Authorization carries bytes no HTTP library would send."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(
            f"GET {where.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
            + b"Authorization: Bearer fb_admin_AAAAAAAA_"
            + key
            + b"\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_hostile_input_never_reaches_a_server_error(live_api: LiveApi) -> None:
    headers = {"Authorization": f"Bearer {live_api.admin_key}"}
    errors = []
    cases = 0
    with requests.Session() as session:
        for method, url, kwargs in _hostile_requests(live_api):
            cases += 1
            if "raw_key" in kwargs:
                status = _raw_get(url, kwargs["raw_key"])
            else:
                extra = kwargs.pop("headers", {})
                status = session.request(
                    method, url, headers={**headers, **extra}, timeout=30, **kwargs
                ).status_code
            if status >= 500:
                errors.append(f"{method} {url} {kwargs}: {status}")
    print(f"hostile cases: {cases}, server errors: {len(errors)}")
    assert cases > 500
    assert not errors, "\n".join(errors[:50])


def test_the_fuzzed_document_is_the_served_one(live_api: LiveApi) -> None:
    served = requests.get(f"{live_api.base_url}/v1/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(DOCUMENT))
