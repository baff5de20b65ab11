"""Payroll exports, credit notes and PDFs over HTTP: each document handed over exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pypdf import PdfReader

from billing.db.pages import After
from billing.db.pool import Pool
from billing.documents.datev import parse_datev_lodas
from billing.documents.exports import parse_csv
from billing.domain.statements import NothingToExport
from billing.services import exports, statements
from tests.close_scene import ADMIN, MARCH, NOW, approved_days
from tests.factories import Factory
from tests.line_item_factories import Scene, build_scene

Client = TestClient[Any, Any]


@pytest.fixture
async def scene(factory: Factory, pool: Pool) -> Scene:
    scene = await build_scene(factory)
    await pool.execute("UPDATE employees SET external_ref = '1001' WHERE id = $1", scene.me.id)
    await pool.execute(
        "UPDATE employees SET external_ref = '1002' WHERE id = $1", scene.colleague.id
    )
    await approved_days(scene, scene.me.id, [1, 2])
    await approved_days(scene, scene.colleague.id, [3])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH)
    await statements.finalize_period(pool, ADMIN, fleet_id=scene.fleet.id, period=MARCH, now=NOW)
    return scene


def auth(scene: Scene, role: str = "manager") -> dict[str, str]:
    key = scene.other_manager if role == "other_manager" else scene.keys[role]
    return {"Authorization": f"Bearer {key}"}


async def export(client: Client, scene: Scene, fmt: str = "csv", role: str = "hr") -> Any:
    body = {"fleet_id": str(scene.fleet.id), "format": fmt}
    return await client.post("/v1/payroll-exports", json=body, headers=auth(scene, role))


async def statement_of(client: Client, scene: Scene, employee_id: object) -> Any:
    resp = await client.get(
        "/v1/statements", params={"employee_id": str(employee_id)}, headers=auth(scene)
    )
    return (await resp.json())["items"][0]


async def test_export_once_then_nothing_then_only_the_credit_note(
    client: Client, scene: Scene
) -> None:
    assert (await export(client, scene, role="employee")).status == 403
    assert (await export(client, scene, role="other_manager")).status == 404
    resp = await export(client, scene)
    assert resp.status == 201, await resp.text()
    first = await resp.json()
    assert first["documents"] == 2
    assert first["total"] == "9.45"
    file = await client.get(f"/v1/payroll-exports/{first['id']}/file", headers=auth(scene, "hr"))
    content = await file.read()
    assert file.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert first["sha256"] == hashlib.sha256(content).hexdigest()
    rows = parse_csv(content)
    assert sum((row.amount for row in rows), Decimal(0)) == Decimal("9.45")
    mine = await statement_of(client, scene, scene.me.id)
    assert {row.number: row.amount for row in rows}[mine["number"]] == Decimal(mine["total"])
    again = await client.get(f"/v1/payroll-exports/{first['id']}/file", headers=auth(scene, "hr"))
    assert await again.read() == content

    nothing = await export(client, scene)
    assert nothing.status == 409
    assert (await nothing.json())["type"].endswith("nothing-to-export")

    # handed over: no void, only a credit note
    assert mine["handed_over_at"] is not None
    assert mine["available_actions"] == ["pdf", "credit"]
    void = await client.post(
        f"/v1/statements/{mine['id']}/void", json={"reason": "late"}, headers=auth(scene)
    )
    assert void.status == 409
    detail = await (await client.get(f"/v1/statements/{mine['id']}", headers=auth(scene))).json()
    line = detail["lines"][0]
    too_much = {
        "statement_id": mine["id"],
        "reason": "x",
        "lines": [{"line_item_id": line["id"], "amount": "100.00"}],
    }
    assert (await client.post("/v1/credit-notes", json=too_much, headers=auth(scene))).status == 409
    body = {
        "statement_id": mine["id"],
        "reason": "meter read twice",
        "lines": [{"line_item_id": line["id"]}],
    }
    assert (
        await client.post("/v1/credit-notes", json=body, headers=auth(scene, "hr"))
    ).status == 403
    created = await client.post("/v1/credit-notes", json=body, headers=auth(scene))
    assert created.status == 201, await created.text()
    note = await created.json()
    assert note["total"] == "-" + line["amount"]
    assert re.fullmatch(r"C-[0-9]{4}-00001", note["number"])
    assert note["statement_number"] == mine["number"]
    twice = await client.post("/v1/credit-notes", json=body, headers=auth(scene))
    assert twice.status == 409  # the line has nothing left to credit

    resp = await export(client, scene, role="manager")
    assert resp.status == 201
    second = await resp.json()
    assert (second["documents"], second["total"]) == (1, note["total"])
    file = await client.get(f"/v1/payroll-exports/{second['id']}/file", headers=auth(scene))
    (row,) = parse_csv(await file.read())
    assert (row.type, row.number, row.referenced_number) == (
        "credit_note",
        note["number"],
        mine["number"],
    )
    own = await client.get("/v1/credit-notes", headers=auth(scene, "employee"))
    assert [n["id"] for n in (await own.json())["items"]] == [note["id"]]
    assert (
        await client.get(f"/v1/payroll-exports/{second['id']}", headers=auth(scene, "employee"))
    ).status == 404


async def test_concurrent_exports_make_one(pool: Pool, scene: Scene) -> None:
    results = await asyncio.gather(
        *(
            exports.create_export(pool, ADMIN, fleet_id=scene.fleet.id, format="csv", now=NOW)
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, NothingToExport)]
    assert (len(made), len(refused)) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM payroll_export_documents") == 2


async def test_datev_needs_settings_and_parses_back(client: Client, scene: Scene) -> None:
    refused = await export(client, scene, "datev-lodas")
    assert refused.status == 422
    assert "datev.consultant_number" in (await refused.json())["detail"]
    settings = {
        "datev": {"consultant_number": "1234567", "client_number": "12345", "wage_type": "4711"}
    }
    patched = await client.patch(f"/v1/fleets/{scene.fleet.id}", json=settings, headers=auth(scene))
    assert patched.status == 200
    resp = await export(client, scene, "datev-lodas")
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    file = await client.get(f"/v1/payroll-exports/{made['id']}/file", headers=auth(scene))
    parsed = parse_datev_lodas(await file.read())
    assert parsed.general["BeraterNr"] == "1234567"
    amounts = {m.personnel_number: m.amount for m in parsed.movements}
    assert amounts == {"1001": Decimal("6.30"), "1002": Decimal("3.15")}


async def test_pdfs(client: Client, scene: Scene, pool: Pool) -> None:
    mine = await statement_of(client, scene, scene.me.id)
    url = f"/v1/statements/{mine['id']}/pdf"
    first = await client.get(url, headers=auth(scene, "employee"))
    assert first.status == 200, await first.text()
    assert first.content_type == "application/pdf"
    content = await first.read()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    for expected in (mine["number"], scene.me.name, "2025", "6.30"):
        assert expected in text, expected
    stored = await pool.fetchval(
        "SELECT sha256 FROM document_pdfs WHERE statement_id = $1", mine["id"]
    )
    assert stored == hashlib.sha256(content).hexdigest()
    assert await (await client.get(url, headers=auth(scene))).read() == content
    with pytest.raises(Exception, match="never change"):
        await pool.execute(
            "UPDATE document_pdfs SET content = 'x' WHERE statement_id = $1", mine["id"]
        )
    assert (await client.get(url, headers=auth(scene, "other_manager"))).status == 404
    # a draft's PDF is marked and never stored
    await approved_days(scene, scene.me.id, [25])
    await statements.refresh_drafts(pool, ADMIN, fleet_id=scene.fleet.id, period="2025-04")
    draft = (
        await statements.list_statements(
            pool,
            ADMIN,
            fleet_id=scene.fleet.id,
            employee_id=scene.me.id,
            period="2025-04",
            status="draft",
            after=After(),
            limit=1,
        )
    )[0]
    resp = await client.get(f"/v1/statements/{draft.id}/pdf", headers=auth(scene))
    assert resp.status == 200
    draft_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await resp.read())).pages)
    assert "DRAFT" in draft_text.upper()
    assert (
        await pool.fetchval("SELECT count(*) FROM document_pdfs WHERE statement_id = $1", draft.id)
        == 0
    )


async def test_documents_by_role(client: Client, scene: Scene, pool: Pool) -> None:
    made = await (await export(client, scene)).json()
    colleague = await statement_of(client, scene, scene.colleague.id)
    mine = await statement_of(client, scene, scene.me.id)
    detail = await (await client.get(f"/v1/statements/{mine['id']}", headers=auth(scene))).json()
    body = {
        "statement_id": mine["id"],
        "reason": "meter read twice",
        "lines": [{"line_item_id": detail["lines"][0]["id"], "amount": "0.50"}],
    }
    note = await (await client.post("/v1/credit-notes", json=body, headers=auth(scene))).json()
    assert note["total"] == "-0.50"
    cases = {
        f"/v1/statements/{mine['id']}": {"employee": 200, "other_manager": 404},
        f"/v1/statements/{colleague['id']}": {"employee": 404, "other_manager": 404},
        f"/v1/statements/{colleague['id']}/pdf": {"employee": 404, "hr": 200},
        f"/v1/credit-notes/{note['id']}": {"employee": 200, "hr": 200, "other_manager": 404},
        f"/v1/credit-notes/{note['id']}/pdf": {"employee": 200, "other_manager": 404},
        f"/v1/payroll-exports/{made['id']}": {"hr": 200, "employee": 404, "other_manager": 404},
        f"/v1/payroll-exports/{made['id']}/file": {"manager": 200, "other_manager": 404},
    }
    for url, expected in cases.items():
        for role, status in expected.items():
            resp = await client.get(url, headers=auth(scene, role))
            assert resp.status == status, (url, role)
    pdf = await client.get(f"/v1/credit-notes/{note['id']}/pdf", headers=auth(scene))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.read())).pages)
    assert note["number"] in text
    assert mine["number"] in text
    listed = await client.get(
        "/v1/payroll-exports", params={"fleet_id": str(scene.other_fleet.id)}, headers=auth(scene)
    )
    assert listed.status == 404
