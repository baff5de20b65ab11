"""Payroll exports: every finalized statement and credit note of a fleet, handed over once."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from billing.db import audit, closing, master
from billing.db import statements as repo
from billing.db.pages import After
from billing.db.pool import Pool, connection, dumps, transaction
from billing.documents.datev import DatevSettings, render_datev_lodas
from billing.documents.exports import render_csv
from billing.documents.rows import ExportError, ExportRow
from billing.domain.access import Principal
from billing.domain.errors import InvalidData, NotFound
from billing.domain.statement_models import ExportFormat, PayrollExport
from billing.domain.statements import NothingToExport, check_may_export
from billing.services.snapshots import thaw


def render(format: ExportFormat, rows: list[ExportRow], datev: DatevSettings | None) -> bytes:
    if format == "csv":
        return render_csv(rows)
    return render_datev_lodas(rows, datev)


async def create_export(
    pool: Pool, who: Principal, *, fleet_id: UUID, format: ExportFormat, now: datetime
) -> PayrollExport:
    """Export what is not yet exported, and mark it handed over (no void afterwards).

    Exports of one fleet take turns on a lock; each document can be in one export only (a
    unique constraint), so a second export right after finds nothing and says so.
    """
    check_may_export(who, fleet_id)
    async with transaction(pool) as conn:
        fleet = await master.get_fleet(conn, fleet_id)
        try:
            datev = (
                DatevSettings.from_fleet(fleet.datev.model_dump())
                if format == "datev-lodas"
                else None
            )
        except ExportError as exc:
            raise InvalidData(str(exc)) from None
        await closing.lock_exports(conn, fleet.id)
        statements, notes = await closing.unexported(conn, fleet.id)
        if not statements and not notes:
            raise NothingToExport()
        rows = [ExportRow.from_document(thaw(doc.snapshot)) for doc in (*statements, *notes)]
        try:
            content = render(format, rows, datev)
        except ExportError as exc:
            raise InvalidData(str(exc)) from None
        currencies = {row.currency for row in rows}
        export = await closing.insert_export(
            conn,
            fleet_id=fleet.id,
            format=format,
            statement_ids=[s.id for s in statements],
            credit_note_ids=[n.id for n in notes],
            total=sum((row.amount for row in rows), Decimal(0)),
            currency=currencies.pop() if len(currencies) == 1 else None,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            actor=who.actor,
        )
        handed, note_ids = await closing.hand_over(
            conn, [s.id for s in statements], [n.id for n in notes], now
        )
        actor = who.actor
        await audit.record(
            conn,
            actor=actor,
            fleet_id=fleet.id,
            entity="payroll_export",
            entity_id=export.id,
            action="created",
            after=export,
        )
        await repo.audit_many(
            conn,
            actor=actor,
            fleet_id=fleet.id,
            entity="statement",
            action="handed_over",
            after=[(s.id, dumps(s.model_dump(mode="json"))) for s in handed],
        )
        await repo.audit_many(
            conn,
            actor=actor,
            fleet_id=fleet.id,
            entity="credit_note",
            action="handed_over",
            after=[(i, dumps({"id": str(i), "export_id": str(export.id)})) for i in note_ids],
        )
        return export


def check_reads(who: Principal, export: PayrollExport) -> None:
    who.check_sees(export.fleet_id)
    if who.role == "employee":
        raise NotFound("no such payroll export")


async def get_export(pool: Pool, who: Principal, export_id: UUID) -> PayrollExport:
    async with connection(pool) as conn:
        export = await closing.get_export(conn, export_id)
    check_reads(who, export)
    return export


async def get_export_file(pool: Pool, who: Principal, export_id: UUID) -> closing.StoredFile:
    async with connection(pool) as conn:
        export = await closing.get_export(conn, export_id)
        check_reads(who, export)
        return await closing.get_export_file(conn, export_id)


async def list_exports(
    pool: Pool, who: Principal, *, fleet_id: UUID | None, after: After, limit: int
) -> list[PayrollExport]:
    if who.role == "employee":
        return []
    async with connection(pool) as conn:
        return await closing.list_exports(
            conn, fleet_id=who.scope_fleet(fleet_id), after=after, limit=limit
        )
