"""Tariff corrections against the database: a preview reads, applying writes in the caller's
transaction. Both build the same plan (`billing.domain.corrections` holds the rules), so a
preview shows line for line what applying does."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from billing.db import audit, ledger
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.correction_results import Correction, CorrectionRequest, describe
from billing.domain.corrections import (
    CorrectionBody,
    CorrectionPlan,
    EmployeeBooks,
    corrected_range,
    plan_correction,
    split_tariffs,
)
from billing.domain.models import Tariff
from billing.domain.pricing import TariffRange
from billing.domain.repricing import RecordLedger

_q = queries("corrections")


@dataclass(frozen=True, slots=True)
class _Loaded:
    plan: CorrectionPlan
    in_force: dict[UUID, asyncpg.Record]  # the scope's tariffs over the range, before
    records: dict[UUID, asyncpg.Record]
    lines: dict[UUID, asyncpg.Record]


def _request(tariff: Tariff, body: CorrectionBody) -> CorrectionRequest:
    start, end = corrected_range(tariff.valid_from, tariff.valid_to, body)
    return CorrectionRequest(
        tariff_id=tariff.id,
        fleet_id=tariff.fleet_id,
        employee_id=tariff.employee_id,
        price_per_kwh=body.price_per_kwh,
        valid_from=start,
        valid_to=end,
    )


async def preview(conn: Connection, tariff: Tariff, body: CorrectionBody) -> Correction:
    """What correcting `tariff` as `body` asks would change; nothing is written."""
    request = _request(tariff, body)
    loaded = await _load(conn, request, lock=False)
    return describe(request, loaded.plan)


@dataclass(frozen=True, slots=True)
class Applied:
    correction: Correction
    # for the service to record in the same transaction: each tariff replaced or created,
    # then each line written, batched as `audit.record_batches` records them
    events: audit.Batches


async def apply(conn: Connection, tariff: Tariff, body: CorrectionBody, *, actor: str) -> Applied:
    """Correct `tariff` in the caller's transaction: replace the tariffs, re-price the lines;
    `actor` is stored on the correction.

    Asking for a price the tariffs already have changes nothing and stores nothing.
    """
    request = _request(tariff, body)
    await conn.execute(_q.lock_fleet, tariff.fleet_id)
    loaded = await _load(conn, request, lock=True)
    split = loaded.plan.split
    if not split.replaced:
        return Applied(describe(request, loaded.plan, written_ids=[]), ())
    correction_id: UUID = await conn.fetchval(
        _q.insert_correction,
        request.fleet_id,
        request.employee_id,
        request.tariff_id,
        request.price_per_kwh,
        request.valid_from,
        request.valid_to,
        actor,
    )
    events: list[tuple[audit.Event, ...]] = []
    for old in split.replaced:
        row = await conn.fetchrow(_q.replace_tariff, old.id, correction_id)
        assert row is not None  # locked by this transaction while in force
        before = Tariff.model_validate(dict(loaded.in_force[old.id]))
        after = Tariff.model_validate(dict(row))
        events.append((audit.Event(request.fleet_id, "tariff", old.id, "correct", before, after),))
    for new in split.created:
        row = await conn.fetchrow(
            _q.insert_corrected_tariff,
            new.id,
            request.fleet_id,
            new.employee_id,
            new.price_per_kwh,
            new.currency,
            new.valid_from,
            new.valid_to,
            new.source,
            correction_id,
        )
        created = Tariff.model_validate(dict(row or {}))
        events.append((audit.Event(request.fleet_id, "tariff", new.id, "create", None, created),))
    plans = [plan for _, preview in loaded.plan.employees for plan in preview.plans]
    written = await ledger.apply_plans(
        conn, plans, loaded.records, loaded.lines, loaded.plan.tariffs()
    )
    correction = describe(
        request,
        loaded.plan,
        correction_id=correction_id,
        written_ids=[r["id"] for r in written.rows],
    )
    return Applied(correction, (*events, *written.events))


async def _load(conn: Connection, request: CorrectionRequest, *, lock: bool) -> _Loaded:
    """The plan, with the rows applying it needs; with `lock`, tariffs, records and lines are
    locked first, so the plan is built from what no one else can change any more."""
    in_force = await conn.fetch(
        _q.lock_scope_tariffs if lock else _q.scope_tariffs,
        request.fleet_id,
        request.employee_id,
        request.valid_from,
        request.valid_to,
    )
    split = split_tariffs(
        [ledger.tariff_range(row) for row in in_force],
        request.price_per_kwh,
        request.valid_from,
        request.valid_to,
    )
    tariffs = {row["id"]: row for row in in_force}
    if not split.corrected:
        return _Loaded(plan_correction([], split), tariffs, {}, {})
    ids = {
        row["id"]
        for row in await conn.fetch(
            _q.affected_records,
            request.fleet_id,
            request.employee_id,
            [t.valid_from for t in split.corrected],
            [t.valid_to for t in split.corrected],
        )
    }
    ids |= {row["id"] for row in await conn.fetch(_q.capped_period_records, list(ids))}
    records = await conn.fetch(_q.lock_records if lock else _q.records, list(ids))
    lines = await conn.fetch(_q.lock_corrected_lines if lock else _q.lines, list(ids))
    books = await _books(conn, records, lines)
    return _Loaded(
        plan_correction(books, split),
        tariffs,
        {r["id"]: r for r in records},
        {line["id"]: line for line in lines},
    )


async def _books(
    conn: Connection, records: list[asyncpg.Record], lines: list[asyncpg.Record]
) -> list[EmployeeBooks]:
    by_record: defaultdict[UUID, list[asyncpg.Record]] = defaultdict(list)
    # The ledger reads a record's lines in creation order.
    for line in sorted(lines, key=lambda x: (x["created_at"], x["id"])):
        by_record[line["charge_record_id"]].append(line)
    by_employee: defaultdict[UUID, list[RecordLedger]] = defaultdict(list)
    for r in records:
        by_employee[r["employee_id"]].append(
            RecordLedger(
                r["id"],
                r["charge_date"],
                r["home_kwh"],
                tuple(ledger.line_state(x) for x in by_record[r["id"]]),
            )
        )
    employee_ids = sorted(by_employee)
    caps = {
        row["id"]: row["monthly_cap"] for row in await conn.fetch(_q.employee_caps, employee_ids)
    }
    tariffs: defaultdict[UUID, list[TariffRange]] = defaultdict(list)
    for row in await conn.fetch(_q.tariffs_of_employees, employee_ids):
        tariffs[row["for_employee"]].append(ledger.tariff_range(row))
    return [
        EmployeeBooks(e, caps[e], tuple(tariffs[e]), tuple(by_employee[e])) for e in employee_ids
    ]
