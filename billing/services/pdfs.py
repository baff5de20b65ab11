"""PDFs of statements and credit notes.

A draft's PDF is rendered from its current lines with a DRAFT mark and never stored. A
finalized document's PDF is rendered from its frozen snapshot once, stored with its SHA-256,
and the stored bytes are served from then on. Rendering runs off the event loop, outside any
transaction.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor
from uuid import UUID

from billing.db import closing, master
from billing.db import statements as repo
from billing.db.pool import Pool, connection, transaction
from billing.documents.pdf import render_pdf_async
from billing.domain.access import Principal
from billing.domain.errors import NotFound
from billing.services import statements as statement_service
from billing.services.snapshots import statement_document, thaw


async def statement_pdf(
    pool: Pool, who: Principal, statement_id: UUID, *, executor: Executor | None = None
) -> bytes:
    async with connection(pool) as conn:
        row = await repo.get_statement(conn, statement_id)
        statement_service.check_reads(who, row)
        if row.status != "draft":
            stored = await closing.get_pdf(conn, statement_id=row.id)
            if stored is not None:
                return stored
            snapshot = await repo.get_snapshot(conn, row.id)
            if snapshot is None:
                raise NotFound("the statement has no snapshot")
            doc = thaw(snapshot)
        else:
            fleet = await master.get_fleet(conn, row.fleet_id)
            employee = await master.get_employee(conn, row.employee_id)
            lines = await repo.lines_by_id(conn, row.line_ids)
            open_ = await repo.open_lines(
                conn, row.fleet_id, row.period, row.employee_id, lock=False
            )
            pending = [
                line for line in open_ if line.status == "pending" and line.currency == row.currency
            ]
            doc = statement_document(
                fleet=fleet,
                employee=employee,
                statement_id=row.id,
                period=row.period,
                currency=row.currency,
                status="draft",
                number=None,
                issued_at=None,
                lines=lines,
                pending=pending,
            )
    content = await render_pdf_async(doc, executor)
    if row.status == "draft":
        return content
    return await _store(pool, content, statement_id=row.id)


async def credit_note_pdf(
    pool: Pool, who: Principal, note_id: UUID, *, executor: Executor | None = None
) -> bytes:
    async with connection(pool) as conn:
        note = await closing.get_credit_note(conn, note_id)
        who.check_sees(note.fleet_id, note.employee_id)
        stored = await closing.get_pdf(conn, credit_note_id=note.id)
        if stored is not None:
            return stored
        doc = thaw(await closing.credit_note_snapshot(conn, note.id))
    content = await render_pdf_async(doc, executor)
    return await _store(pool, content, credit_note_id=note.id)


async def _store(
    pool: Pool,
    content: bytes,
    *,
    statement_id: UUID | None = None,
    credit_note_id: UUID | None = None,
) -> bytes:
    sha = hashlib.sha256(content).hexdigest()
    async with transaction(pool) as conn:
        return await closing.store_pdf(
            conn, content, sha, statement_id=statement_id, credit_note_id=credit_note_id
        )


async def render_missing(
    pool: Pool, who: Principal, statement_ids: list[UUID], *, executor: Executor | None = None
) -> int:
    """Render and store the PDFs of finalized statements that have none yet (background)."""
    done = 0
    for statement_id in statement_ids:
        async with connection(pool) as conn:
            have = await closing.get_pdf(conn, statement_id=statement_id)
        if have is None:
            await statement_pdf(pool, who, statement_id, executor=executor)
            done += 1
    return done
