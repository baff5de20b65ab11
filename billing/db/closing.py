"""Credit notes, payroll exports, stored PDFs and the fleet's document settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from billing.db.pages import After
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.db.statements import statement_from_row
from billing.domain.errors import NotFound
from billing.domain.line_items import in_minor_units
from billing.domain.models import Fleet
from billing.domain.statement_models import (
    CreditNoteLine,
    CreditNoteRow,
    PayrollExport,
    StatementRow,
)
from billing.domain.statements import Credit

_c = queries("credit_notes")
_e = queries("exports")


def credit_note_from_row(row: asyncpg.Record) -> CreditNoteRow:
    data: dict[str, Any] = dict(row)
    currency = data["currency"]
    data["total"] = in_minor_units(data["total"], currency)
    data["lines"] = [
        CreditNoteLine(
            line_item_id=UUID(line["line_item_id"]),
            amount=in_minor_units(Decimal(str(line["amount"])), currency),
        )
        for line in data["lines"]
    ]
    return CreditNoteRow.model_validate(data)


def export_from_row(row: asyncpg.Record) -> PayrollExport:
    data = dict(row)
    if data["currency"] is not None:
        data["total"] = in_minor_units(data["total"], data["currency"])
    return PayrollExport.model_validate(data)


async def credited_per_line(conn: Connection, statement_id: UUID) -> dict[UUID, Decimal]:
    rows = await conn.fetch(_c.credited_per_line, statement_id)
    return {row["line_item_id"]: row["amount"] for row in rows}


async def insert_credit_note(
    conn: Connection,
    statement: StatementRow,
    *,
    note_id: UUID,
    number: str,
    credits: Sequence[Credit],
    reason: str,
    actor: str,
    at: datetime,
    snapshot: str,
    sha256: str,
) -> CreditNoteRow:
    total = -sum((c.amount for c in credits), Decimal(0))
    await conn.execute(
        _c.insert_credit_note,
        note_id,
        statement.fleet_id,
        statement.employee_id,
        statement.id,
        number,
        statement.currency,
        total,
        reason,
        actor,
        snapshot,
        sha256,
        at,
    )
    await conn.executemany(
        _c.insert_credit_line, [(note_id, c.line_item_id, c.amount) for c in credits]
    )
    return await get_credit_note(conn, note_id)


async def get_credit_note(conn: Connection, note_id: UUID) -> CreditNoteRow:
    row = await conn.fetchrow(_c.get_credit_note, note_id)
    if row is None:
        raise NotFound("no such credit note")
    return credit_note_from_row(row)


async def list_credit_notes(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    statement_id: UUID | None,
    after: After,
    limit: int,
) -> list[CreditNoteRow]:
    rows = await conn.fetch(
        _c.list_credit_notes, fleet_id, employee_id, statement_id, after.created_at, after.id, limit
    )
    return [credit_note_from_row(row) for row in rows]


async def credit_note_snapshot(conn: Connection, note_id: UUID) -> str:
    value = await conn.fetchval(_c.get_credit_note_snapshot, note_id)
    if not isinstance(value, str):
        raise NotFound("no such credit note")
    return value


# Payroll exports


@dataclass(frozen=True, slots=True)
class Unexported:
    id: UUID
    number: str
    snapshot: str
    total: Decimal


async def lock_exports(conn: Connection, fleet_id: UUID) -> None:
    await conn.execute(_e.lock_exports, fleet_id)


async def unexported(conn: Connection, fleet_id: UUID) -> tuple[list[Unexported], list[Unexported]]:
    """The fleet's finalized statements and credit notes in no export yet, locked."""
    statements = await conn.fetch(_e.unexported_statements, fleet_id)
    notes = await conn.fetch(_e.unexported_credit_notes, fleet_id)
    return (
        [Unexported(r["id"], r["number"], r["snapshot"], r["total"]) for r in statements],
        [Unexported(r["id"], r["number"], r["snapshot"], r["total"]) for r in notes],
    )


async def insert_export(
    conn: Connection,
    *,
    fleet_id: UUID,
    format: str,
    statement_ids: list[UUID],
    credit_note_ids: list[UUID],
    total: Decimal,
    currency: str | None,
    content: bytes,
    sha256: str,
    actor: str,
) -> PayrollExport:
    row = await conn.fetchrow(
        _e.insert_export,
        fleet_id,
        format,
        len(statement_ids) + len(credit_note_ids),
        total,
        currency,
        content,
        sha256,
        actor,
    )
    assert row is not None
    await conn.execute(_e.insert_export_statements, row["id"], statement_ids)
    await conn.execute(_e.insert_export_credit_notes, row["id"], credit_note_ids)
    return export_from_row(row)


async def hand_over(
    conn: Connection, statement_ids: list[UUID], credit_note_ids: list[UUID], at: datetime
) -> tuple[list[StatementRow], list[UUID]]:
    statements = await conn.fetch(_e.hand_over_statements, statement_ids, at)
    notes = await conn.fetch(_e.hand_over_credit_notes, credit_note_ids, at)
    return [statement_from_row(r) for r in statements], [r["id"] for r in notes]


async def get_export(conn: Connection, export_id: UUID) -> PayrollExport:
    row = await conn.fetchrow(_e.get_export, export_id)
    if row is None:
        raise NotFound("no such payroll export")
    return export_from_row(row)


@dataclass(frozen=True, slots=True)
class StoredFile:
    fleet_id: UUID
    format: str
    content: bytes
    sha256: str


async def get_export_file(conn: Connection, export_id: UUID) -> StoredFile:
    row = await conn.fetchrow(_e.get_export_file, export_id)
    if row is None:
        raise NotFound("no such payroll export")
    return StoredFile(row["fleet_id"], row["format"], bytes(row["content"]), row["sha256"])


async def list_exports(
    conn: Connection, *, fleet_id: UUID | None, after: After, limit: int
) -> list[PayrollExport]:
    rows = await conn.fetch(_e.list_exports, fleet_id, after.created_at, after.id, limit)
    return [export_from_row(row) for row in rows]


# Stored PDFs


async def get_pdf(
    conn: Connection, *, statement_id: UUID | None = None, credit_note_id: UUID | None = None
) -> bytes | None:
    row = await conn.fetchrow(_e.get_pdf, statement_id, credit_note_id)
    return None if row is None else bytes(row["content"])


async def store_pdf(
    conn: Connection,
    content: bytes,
    sha256: str,
    *,
    statement_id: UUID | None = None,
    credit_note_id: UUID | None = None,
) -> bytes:
    """Store once; returns the stored bytes (an earlier concurrent store wins)."""
    await conn.execute(_e.insert_pdf, statement_id, credit_note_id, content, sha256)
    stored = await get_pdf(conn, statement_id=statement_id, credit_note_id=credit_note_id)
    assert stored is not None
    return stored


# Fleet settings


async def update_fleet_settings(
    conn: Connection,
    fleet: Fleet,
    *,
    locale: str,
    auto_finalize: bool,
    consultant_number: str | None,
    client_number: str | None,
    wage_type: str | None,
) -> Fleet:
    row = await conn.fetchrow(
        _e.update_fleet_settings,
        fleet.id,
        locale,
        auto_finalize,
        consultant_number,
        client_number,
        wage_type,
    )
    if row is None:
        raise NotFound("no such fleet")
    return Fleet.model_validate(dict(row))
