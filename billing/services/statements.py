"""Statements: drafting a month, finalizing, voiding, and reading them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from billing.db import audit, master
from billing.db import statements as repo
from billing.db.pages import After
from billing.db.pool import Connection, Pool, connection, dumps, transaction
from billing.domain.access import Principal
from billing.domain.errors import Conflict, NotFound
from billing.domain.models import Fleet
from billing.domain.statement_models import (
    DraftCounts,
    PricedLine,
    Statement,
    StatementDetail,
    StatementLine,
    StatementRow,
)
from billing.domain.statements import (
    ClosingLine,
    Draft,
    StatementStatus,
    check_may_close,
    check_may_void,
    collect,
    format_number,
    is_prior_period,
    statement_actions,
)
from billing.services.snapshots import FinalizedDocuments, frozen

Line = TypeVar("Line", PricedLine, ClosingLine)


def view(who: Principal, row: StatementRow) -> Statement:
    """The statement as `who` sees it, with what `who` may do next."""
    actions = statement_actions(
        who,
        fleet_id=row.fleet_id,
        employee_id=row.employee_id,
        status=row.status,
        handed_over=row.handed_over_at is not None,
        remaining=row.total - row.credited,
    )
    return Statement(
        **row.model_dump(exclude={"line_ids"}), negative=row.total < 0, available_actions=actions
    )


def check_reads(who: Principal, row: StatementRow) -> None:
    """Employees see only their own finalized statements; other fleets see nothing (404)."""
    who.check_sees(row.fleet_id, row.employee_id)
    if who.role == "employee" and row.status != "finalized":
        raise NotFound("no such statement")


def _by_employee(lines: Sequence[Line]) -> dict[UUID, list[Line]]:
    grouped: dict[UUID, list[Line]] = defaultdict(list)
    for line in lines:
        grouped[line.employee_id].append(line)
    return grouped


async def refresh_drafts(
    pool: Pool, who: Principal, *, fleet_id: UUID, period: str, employee_id: UUID | None = None
) -> DraftCounts:
    """Create or refresh the drafts of a fleet's month; finalized statements stay as they are
    (lines approved since wait for the next month's statement)."""
    check_may_close(who, fleet_id)
    created = refreshed = unchanged = 0
    actor = who.actor
    async with transaction(pool) as conn:
        fleet = await master.get_fleet(conn, fleet_id)
        if employee_id is not None:
            employee = await master.get_employee(conn, employee_id)
            if employee.fleet_id != fleet.id:
                raise NotFound("no such employee in this fleet")
        await repo.lock_close(conn, fleet.id, period)
        lines = await repo.open_lines(conn, fleet.id, period, employee_id, lock=False)
        existing = {
            (s.employee_id, s.currency): s
            for s in await repo.statements_of_period(conn, fleet.id, period, employee_id)
        }
        wanted: set[tuple[UUID, str]] = set()
        for emp_id, own in _by_employee(lines).items():
            for draft in collect(period, own):
                key = (emp_id, draft.currency)
                wanted.add(key)
                current = existing.get(key)
                if current is None:
                    row = await repo.insert_draft(
                        conn,
                        fleet_id=fleet.id,
                        employee_id=emp_id,
                        period=period,
                        currency=draft.currency,
                        total=draft.total,
                        kwh=draft.kwh,
                        line_ids=draft.line_ids,
                    )
                    await _audit(conn, actor, row, "created")
                    created += 1
                elif current.status != "draft":
                    continue  # the lines wait for a later month's statement
                elif current.line_ids == draft.line_ids and current.total == draft.total:
                    unchanged += 1
                else:
                    row = await repo.update_draft(
                        conn, current.id, total=draft.total, kwh=draft.kwh, line_ids=draft.line_ids
                    )
                    await _audit(conn, actor, row, "refreshed", before=current)
                    refreshed += 1
        for key, current in existing.items():
            if current.status == "draft" and key not in wanted:  # nothing approved is left
                await repo.delete_draft(conn, current.id)
                await _audit(conn, actor, current, "deleted", before=current, after=False)
                refreshed += 1
    return DraftCounts(created=created, refreshed=refreshed, unchanged=unchanged)


async def _audit(
    conn: Connection,
    actor: str,
    row: StatementRow,
    action: str,
    *,
    before: StatementRow | None = None,
    after: bool = True,
) -> None:
    await audit.record(
        conn,
        actor=actor,
        fleet_id=row.fleet_id,
        entity="statement",
        entity_id=row.id,
        action=action,
        before=before,
        after=row if after else None,
    )


def _pick(drafts: list[Draft[ClosingLine]], currency: str) -> Draft[ClosingLine] | None:
    return next((d for d in drafts if d.currency == currency), None)


async def _finalize_locked(
    conn: Connection,
    who: Principal,
    fleet: Fleet,
    drafts: Sequence[StatementRow],
    now: datetime,
) -> list[StatementRow]:
    """Finalize locked drafts of one period, all or nothing: collect their lines again, number,
    freeze and link them. Linking takes only lines still approved and on no statement and
    must link every one, so a line decided meanwhile makes the whole finalization a conflict
    (a decision after the link sees the line on a statement and is refused)."""
    if not drafts:
        return []
    period = drafts[0].period
    only = drafts[0].employee_id if len(drafts) == 1 else None
    lines = _by_employee(await repo.closing_lines(conn, fleet.id, period, only))
    employees = await repo.employees_by_id(conn, [d.employee_id for d in drafts])
    year = now.astimezone(ZoneInfo(fleet.timezone)).year
    chosen: list[tuple[StatementRow, Draft[ClosingLine]]] = []
    for row in drafts:
        draft = _pick(collect(period, lines.get(row.employee_id, [])), row.currency)
        if draft is None or not draft.lines:
            raise Conflict(
                f"the draft of {employees[row.employee_id].name} for {period} has no approved"
                " lines left; refresh the drafts first"
            )
        chosen.append((row, draft))
    numbers = await repo.take_numbers(conn, fleet.id, year, "S", len(chosen))
    items: list[repo.Finalized] = []
    documents = FinalizedDocuments(fleet, period, now)
    for (row, draft), n in zip(chosen, numbers, strict=True):
        number = format_number("S", year, n)
        doc = documents.document(
            employee=employees[row.employee_id],
            statement_id=row.id,
            currency=row.currency,
            number=number,
            lines=draft.lines,
        )
        snapshot, sha = frozen(doc)
        items.append(
            repo.Finalized(row.id, number, draft.total, draft.kwh, draft.line_ids, snapshot, sha)
        )
    actor = who.actor
    done = await repo.finalize_many(conn, items, at=now, actor=actor)
    await repo.audit_many(
        conn,
        actor=actor,
        fleet_id=fleet.id,
        entity="statement",
        action="finalized",
        after=[(row.id, dumps(row.model_dump(mode="json"))) for row in done],
    )
    return done


async def finalize_statement(
    pool: Pool, who: Principal, statement_id: UUID, *, now: datetime
) -> StatementRow:
    async with transaction(pool) as conn:
        row = await repo.get_statement(conn, statement_id)
        check_reads(who, row)
        who.check_manages(row.fleet_id, row.employee_id)
        await repo.lock_close(conn, row.fleet_id, row.period)
        row = await repo.get_statement(conn, statement_id, for_update=True)
        if row.status != "draft":
            raise Conflict(f"the statement is already {row.status}")
        fleet = await master.get_fleet(conn, row.fleet_id)
        return (await _finalize_locked(conn, who, fleet, [row], now))[0]


async def finalize_period(
    pool: Pool, who: Principal, *, fleet_id: UUID, period: str, now: datetime
) -> list[StatementRow]:
    """Every draft of the fleet's month, all or nothing."""
    check_may_close(who, fleet_id)
    async with transaction(pool) as conn:
        fleet = await master.get_fleet(conn, fleet_id)
        await repo.lock_close(conn, fleet.id, period)
        drafts = await repo.drafts_of_period(conn, fleet.id, period)
        if who.employee_id is not None and any(d.employee_id == who.employee_id for d in drafts):
            who.check_manages(fleet.id, who.employee_id)
        return await _finalize_locked(conn, who, fleet, drafts, now)


async def void_statement(
    pool: Pool, who: Principal, statement_id: UUID, *, reason: str
) -> StatementRow:
    async with transaction(pool) as conn:
        before = await repo.get_statement(conn, statement_id, for_update=True)
        check_reads(who, before)
        who.check_manages(before.fleet_id, before.employee_id)
        check_may_void(before.status, before.handed_over_at is not None)
        row = await repo.void(conn, statement_id, actor=who.actor, reason=reason)
        await _audit(conn, who.actor, row, "voided", before=before)
        return row


async def get_statement(pool: Pool, who: Principal, statement_id: UUID) -> StatementDetail:
    async with connection(pool) as conn:
        row = await repo.get_statement(conn, statement_id)
        check_reads(who, row)
        lines = await repo.lines_by_id(conn, row.line_ids)
        pending: list[PricedLine] | None = None
        if row.status == "draft":
            open_ = await repo.open_lines(
                conn, row.fleet_id, row.period, row.employee_id, lock=False
            )
            pending = [
                line for line in open_ if line.status == "pending" and line.currency == row.currency
            ]
    return StatementDetail(
        **view(who, row).model_dump(),
        lines=[
            StatementLine(
                **line.model_dump(exclude={"tariff_source"}),
                prior_period=is_prior_period(line.period, row.period),
            )
            for line in lines
        ],
        pending_not_included=pending,
    )


async def list_statements(
    pool: Pool,
    who: Principal,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    period: str | None,
    status: StatementStatus | None,
    after: After,
    limit: int,
) -> list[Statement]:
    async with connection(pool) as conn:
        rows = await repo.list_statements(
            conn,
            fleet_id=who.scope_fleet(fleet_id),
            employee_id=who.scope_employee(employee_id),
            period=period,
            status=status,
            issued_only=who.role == "employee",
            after=after,
            limit=limit,
        )
    return [view(who, row) for row in rows]
