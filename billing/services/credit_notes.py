"""Credit notes: correcting a statement that went to payroll, line by line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from billing.db import audit, closing, master
from billing.db import statements as repo
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import NotFound
from billing.domain.statement_models import CreditNote, CreditNoteRow
from billing.domain.statements import CreditRequest, format_number, plan_credits
from billing.services.snapshots import credit_note_document, frozen


def view(who: Principal, row: CreditNoteRow) -> CreditNote:
    return CreditNote(**row.model_dump(), available_actions=["pdf"])


async def create_credit_note(
    pool: Pool,
    who: Principal,
    *,
    statement_id: UUID,
    reason: str,
    lines: Sequence[CreditRequest],
    now: datetime,
) -> CreditNoteRow:
    """Credit chosen lines of a handed-over statement; numbered from its own series."""
    async with transaction(pool) as conn:
        statement = await repo.get_statement(conn, statement_id, for_update=True)
        who.check_sees(statement.fleet_id, statement.employee_id)
        if who.role == "employee" and statement.status != "finalized":
            raise NotFound("no such statement")
        who.check_manages(statement.fleet_id, statement.employee_id)
        on_statement = {line.id: line for line in await repo.lines_by_id(conn, statement.line_ids)}
        credits = plan_credits(
            status=statement.status,
            handed_over=statement.handed_over_at is not None,
            statement_total_amount=statement.total,
            lines=on_statement,
            credited=await closing.credited_per_line(conn, statement.id),
            requests=lines,
        )
        fleet = await master.get_fleet(conn, statement.fleet_id)
        employee = await master.get_employee(conn, statement.employee_id)
        year = now.astimezone(ZoneInfo(fleet.timezone)).year
        number = format_number("C", year, await repo.take_number(conn, fleet.id, year, "C"))
        note_id = uuid4()
        assert statement.number is not None  # finalized
        doc = credit_note_document(
            fleet=fleet,
            employee=employee,
            note_id=note_id,
            number=number,
            statement_number=statement.number,
            period=statement.period,
            currency=statement.currency,
            issued_at=now,
            lines=[on_statement[c.line_item_id] for c in credits],
            amounts={c.line_item_id: c.amount for c in credits},
            reason=reason,
        )
        snapshot, sha = frozen(doc)
        note = await closing.insert_credit_note(
            conn,
            statement,
            note_id=note_id,
            number=number,
            credits=credits,
            reason=reason,
            actor=who.actor,
            at=now,
            snapshot=snapshot,
            sha256=sha,
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=note.fleet_id,
            entity="credit_note",
            entity_id=note.id,
            action="created",
            after=note,
        )
        return note


def check_reads(who: Principal, row: CreditNoteRow) -> None:
    who.check_sees(row.fleet_id, row.employee_id)


async def get_credit_note(pool: Pool, who: Principal, note_id: UUID) -> CreditNoteRow:
    async with connection(pool) as conn:
        row = await closing.get_credit_note(conn, note_id)
    check_reads(who, row)
    return row


async def list_credit_notes(
    pool: Pool,
    who: Principal,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    statement_id: UUID | None,
    after: After,
    limit: int,
) -> list[CreditNoteRow]:
    async with connection(pool) as conn:
        return await closing.list_credit_notes(
            conn,
            fleet_id=who.scope_fleet(fleet_id),
            employee_id=who.scope_employee(employee_id),
            statement_id=statement_id,
            after=after,
            limit=limit,
        )
