"""Line items from charge records: applies the pure ledger's plans inside the caller's
transaction, and returns the audit event of every line created or changed for the calling
service to record in it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, assert_never
from uuid import UUID

import asyncpg

from billing.db import audit
from billing.db.pool import Connection, dumps
from billing.db.queries import queries
from billing.domain.errors import StaleVersion
from billing.domain.ledger import (
    Action,
    CreateAdjustment,
    CreateCharge,
    LineState,
    UpdatePending,
)
from billing.domain.pricing import Priced, TariffRange, Unpriced, billing_period
from billing.domain.repricing import RecordLedger, RecordPlan, plan_repricing

_q = queries("ledger")
# A charge record's row as `records_for_pricing` returns it, or the same columns as a mapping.
Row = asyncpg.Record | Mapping[str, Any]


# The events of the lines written, in plan order, batched as `audit.record_batches` records them.
Batches = audit.Batches


@dataclass(frozen=True, slots=True)
class Written:
    rows: list[asyncpg.Record]  # one per action, in plan order
    events: Batches


@dataclass(frozen=True, slots=True)
class LedgerResult:
    lines_changed: int
    unpriced: int
    events: Batches = ()


def line_state(row: asyncpg.Record) -> LineState:
    return LineState(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        kwh=row["kwh"],
        unit_price=row["unit_price"],
        amount=row["amount"],
        currency=row["currency"].strip(),
        tariff_id=row["tariff_id"],
        version=row["version"],
        adjusts_id=row["adjusts_id"],
    )


def tariff_range(row: Row) -> TariffRange:
    return TariffRange(
        id=row["id"],
        employee_id=row["employee_id"],
        price_per_kwh=row["price_per_kwh"],
        currency=row["currency"].strip(),
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        source=row["source"],
    )


def _evidence(
    target: Priced | None,
    record: Row,
    tariffs: Mapping[UUID, TariffRange],
    tariff_id: UUID,
) -> dict[str, Any]:
    tariff = tariffs.get(tariff_id)
    evidence: dict[str, Any] = {
        "record": {
            "id": str(record["id"]),
            "revision": record["revision"],
            "request_id": record["request_id"],
            "source": record["source"],
            "fetched_at": record["fetched_at"].isoformat(),
        },
    }
    if tariff is not None:
        evidence["tariff"] = {
            "id": str(tariff.id),
            "price_per_kwh": str(tariff.price_per_kwh),
            "currency": tariff.currency,
            "valid_from": tariff.valid_from.isoformat(),
            "valid_to": tariff.valid_to.isoformat() if tariff.valid_to else None,
            "scope": "employee" if tariff.employee_id else "fleet",
            "source": tariff.source,
        }
    if target is not None:
        evidence["arithmetic"] = {
            "kwh": str(target.kwh),
            "unit_price": str(target.unit_price),
            "unrounded": str(target.unrounded),
            "rounded": str(target.full_amount),
            "rounding": "half-up to the currency's minor unit",
            "currency": target.currency,
        }
        if target.cap is not None:
            evidence["cap"] = {"monthly_cap": str(target.cap), "cut": str(target.cap_cut)}
    return evidence


async def reconcile_records(conn: Connection, record_ids: Sequence[UUID]) -> LedgerResult:
    """Bring the lines of these records in line with their current figures and tariffs."""
    if not record_ids:
        return LedgerResult(0, 0)
    rows = await conn.fetch(_q.records_for_pricing, list(record_ids))
    return await reconcile_rows(conn, rows)


async def reconcile_rows(
    conn: Connection,
    rows: Sequence[Row],
    *,
    new: frozenset[UUID] = frozenset(),
) -> LedgerResult:
    """`reconcile_records` of rows as `records_for_pricing` returns them; `new` are records
    this transaction inserted, which can have no line yet."""
    by_employee: defaultdict[UUID, list[Row]] = defaultdict(list)
    for row in rows:
        by_employee[row["employee_id"]].append(row)
    changed = unpriced = 0
    events: Batches = ()
    for employee_id in sorted(by_employee):
        result = await _reconcile_employee(conn, employee_id, by_employee[employee_id], new)
        changed += result.lines_changed
        unpriced += result.unpriced
        events += result.events
    return LedgerResult(changed, unpriced, events)


async def _reconcile_employee(
    conn: Connection, employee_id: UUID, records: list[Row], new: frozenset[UUID]
) -> LedgerResult:
    pricing = await conn.fetch(_q.employee_pricing, employee_id)
    cap = pricing[0]["monthly_cap"] if pricing else None
    if cap is not None:
        # A cap couples every day of a period: re-plan the whole periods concerned.
        periods = sorted({billing_period(r["charge_date"]) for r in records})
        records = list(await conn.fetch(_q.employee_records_in_periods, employee_id, periods))
    tariffs = {t.id: t for t in (tariff_range(row) for row in pricing if row["id"] is not None)}
    if all(r["id"] in new for r in records):
        line_rows: list[asyncpg.Record] = []  # no other transaction sees these records yet
    else:
        line_rows = await conn.fetch(_q.lock_lines, [r["id"] for r in records])
    lines: defaultdict[UUID, list[asyncpg.Record]] = defaultdict(list)
    # A record's lines reach the ledger in creation order.
    for line in sorted(line_rows, key=lambda x: (x["created_at"], x["id"])):
        lines[line["charge_record_id"]].append(line)
    ledgers = [
        RecordLedger(
            r["id"], r["charge_date"], r["home_kwh"], tuple(line_state(x) for x in lines[r["id"]])
        )
        for r in records
    ]
    plans = plan_repricing(ledgers, list(tariffs.values()), monthly_cap=cap)
    by_id = {r["id"]: r for r in records}
    line_by_id = {line["id"]: line for line in line_rows}
    written = await apply_plans(conn, plans, by_id, line_by_id, tariffs)
    return LedgerResult(
        len(written.rows), sum(isinstance(p.target, Unpriced) for p in plans), written.events
    )


async def apply_plans(
    conn: Connection,
    plans: Sequence[RecordPlan],
    records: Mapping[UUID, Row],
    lines: Mapping[UUID, asyncpg.Record],
    tariffs: Mapping[UUID, TariffRange],
) -> Written:
    """Write `plans`: the lines created or changed, with the audit event of each.

    `records` are the planned records' rows (as `records_for_pricing` returns them), `lines`
    their line rows locked by this transaction, `tariffs` every tariff a plan prices with.
    Returns the rows written, one per action, and their events, in plan order.
    """
    actions = [(plan.record_id, a) for plan in plans for a in plan.actions]
    charges = [(records[rid], a.priced) for rid, a in actions if isinstance(a, CreateCharge)]
    if charges and len(charges) == len(actions) == len({rid for rid, _ in actions}):
        return await _create_charges(conn, charges, tariffs)
    rows: list[asyncpg.Record] = []
    events: list[tuple[audit.Event, ...]] = []
    for plan in plans:
        for action in plan.actions:
            row, event = await _apply(conn, action, records[plan.record_id], lines, tariffs)
            rows.append(row)
            events.append((event,))
    return Written(rows, tuple(events))


async def _create_charges(
    conn: Connection,
    charges: Sequence[tuple[Row, Priced]],
    tariffs: Mapping[UUID, TariffRange],
) -> Written:
    """The common case of a first read: only new charge lines, one per record; written in
    one statement, their audit events in one batch, in plan order."""
    rows = await conn.fetch(
        _q.insert_charge_lines,
        [r["fleet_id"] for r, _ in charges],
        [r["employee_id"] for r, _ in charges],
        [r["vehicle_id"] for r, _ in charges],
        [r["id"] for r, _ in charges],
        [r["charge_date"] for r, _ in charges],
        [billing_period(r["charge_date"]) for r, _ in charges],
        [p.kwh for _, p in charges],
        [p.unit_price for _, p in charges],
        [p.currency for _, p in charges],
        [p.amount for _, p in charges],
        [p.tariff_id for _, p in charges],
        [dumps(_evidence(p, r, tariffs, p.tariff_id)) for r, p in charges],
    )
    by_record = {row["charge_record_id"]: row for row in rows}
    written = [by_record[r["id"]] for r, _ in charges]
    events = tuple(
        audit.Event(r["fleet_id"], "line_item", row["id"], "create", None, dict(row))
        for (r, _), row in zip(charges, written, strict=True)
    )
    return Written(written, (events,))


async def _apply(
    conn: Connection,
    action: Action,
    record: Row,
    lines: Mapping[UUID, asyncpg.Record],
    tariffs: Mapping[UUID, TariffRange],
) -> tuple[asyncpg.Record, audit.Event]:
    common = (
        record["fleet_id"],
        record["employee_id"],
        record["vehicle_id"],
        record["id"],
        record["charge_date"],
        billing_period(record["charge_date"]),
    )
    match action:
        case CreateCharge(priced=p):
            row = await conn.fetchrow(
                _q.insert_line,
                *common,
                "charge",
                None,
                p.kwh,
                p.unit_price,
                p.currency,
                p.amount,
                p.tariff_id,
                _evidence(p, record, tariffs, p.tariff_id),
            )
            before, verb = None, "create"
        case UpdatePending() as u:
            row = await conn.fetchrow(
                _q.update_pending_line,
                u.line_id,
                u.expected_version,
                u.kwh,
                u.unit_price,
                u.amount,
                u.currency,
                u.tariff_id,
                _evidence(u.target, record, tariffs, u.tariff_id),
            )
            if row is None:
                raise StaleVersion(f"line item {u.line_id} changed while it was being re-priced")
            before, verb = dict(lines[u.line_id]), "restate"
        case CreateAdjustment() as a:
            row = await conn.fetchrow(
                _q.insert_line,
                *common,
                "adjustment",
                a.adjusts_id,
                a.kwh_delta,
                a.unit_price,
                a.currency,
                a.amount_delta,
                a.tariff_id,
                _evidence(a.target, record, tariffs, a.tariff_id),
            )
            before, verb = None, "adjust"
        case _:
            assert_never(action)
    assert row is not None
    return row, audit.Event(record["fleet_id"], "line_item", row["id"], verb, before, dict(row))


async def price_unpriced(
    conn: Connection,
    *,
    fleet_id: UUID,
    employee_id: UUID | None,
    valid_from: date,
    valid_to: date | None,
) -> LedgerResult:
    """Price the days a new tariff covers that had home kWh but no line yet."""
    ids = [
        r["id"]
        for r in await conn.fetch(_q.unpriced_records, fleet_id, employee_id, valid_from, valid_to)
    ]
    return await reconcile_records(conn, ids)
