"""Line items and charge records: reads, evidence, and decisions (approve, reject, reopen)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from billing.db import audit, master
from billing.db.pages import After, encode_cursor
from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.access import NOBODYS, Own, Principal
from billing.domain.decisions import Requested, plan
from billing.domain.errors import NotFound
from billing.domain.line_items import (
    ChargeRecord,
    ChargeRecordReceived,
    Evidence,
    LineItem,
    LineItemDetail,
    LineItemKind,
    LineItemStatus,
    arithmetic,
    in_minor_units,
)

_q = queries("line_items")


def line_item_from_row(row: asyncpg.Record) -> LineItem:
    fields = dict(row)
    fields["amount"] = in_minor_units(row["amount"], row["currency"])
    return LineItem.model_validate(fields)


@dataclass(frozen=True, slots=True)
class LineItemsJson:
    """A page of line items as JSON text: `items` is the items' objects, comma-separated,
    byte for byte what `LineItem.model_dump_json()` writes for each."""

    items: str
    next_cursor: str | None

    def page(self) -> bytes:
        """The whole `LineItemPage` as `model_dump_json()` writes it."""
        return f'{{"items":[{self.items}],"next_cursor":{json.dumps(self.next_cursor)}}}'.encode()


async def list_line_items(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    vehicle_id: UUID | None,
    status: LineItemStatus | None,
    kind: LineItemKind | None,
    period: str | None,
    after: After,
    limit: int,
    charged_from: date | None = None,
    charged_to: date | None = None,
) -> list[LineItem]:
    rows = await conn.fetch(
        _q.list_line_items,
        fleet_id,
        employee_id,
        vehicle_id,
        status,
        kind,
        period,
        after.created_at,
        after.id,
        limit,
        charged_from,
        charged_to,
    )
    return [line_item_from_row(row) for row in rows]


async def list_line_items_json(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    vehicle_id: UUID | None,
    status: LineItemStatus | None,
    kind: LineItemKind | None,
    period: str | None,
    after: After,
    limit: int,
    charged_from: date | None = None,
    charged_to: date | None = None,
) -> LineItemsJson:
    """The page `list_line_items` returns, rendered by PostgreSQL: a page is then one text
    value to pass on instead of a hundred rows to decode, validate and encode again."""
    row = await conn.fetchrow(
        _q.list_line_items_json,
        fleet_id,
        employee_id,
        vehicle_id,
        status,
        kind,
        period,
        after.created_at,
        after.id,
        limit,
        charged_from,
        charged_to,
    )
    assert row is not None  # an aggregate without GROUP BY always answers one row
    full = row["count"] >= limit
    cursor = encode_cursor(row["last_created_at"], row["last_id"]) if full else None
    return LineItemsJson(row["items"], cursor)


async def get_line_item(conn: Connection, item_id: UUID) -> LineItem:
    row = await conn.fetchrow(_q.get_line_item, item_id)
    if row is None:
        raise NotFound("no such line item")
    return line_item_from_row(row)


async def get_line_item_detail(conn: Connection, who: Principal, item_id: UUID) -> LineItemDetail:
    """The item with everything it was computed from, if `who` may see it."""
    row = await conn.fetchrow(_q.get_line_item, item_id)
    if row is None:
        raise NotFound("no such line item")
    item = line_item_from_row(row)
    who.check_sees(item.fleet_id, item.employee_id, what="line item")
    record = await conn.fetchrow(_q.get_charge_record, item.charge_record_id)
    chain = await conn.fetch(_q.adjustment_chain, item.id)
    stored: dict[str, Any] = row["evidence"] or {}
    evidence = Evidence(
        stored=stored,
        charge_record=ChargeRecordReceived.model_validate(dict(record or {})),
        tariff=await master.get_tariff(conn, item.tariff_id),
        arithmetic=arithmetic(item),
        chain=[line_item_from_row(r) for r in chain],
    )
    return LineItemDetail(**item.model_dump(), evidence=evidence)


@dataclass(frozen=True, slots=True)
class Decided:
    items: list[LineItem]
    # for the service to record in the same transaction: one per decision, in order, batched
    # as `audit.record_batches` records them
    events: audit.Batches


async def decide(
    conn: Connection, who: Principal, requests: Sequence[Requested], own: Own | None = None
) -> Decided:
    """Apply every decision or none; call inside a transaction.

    The rows are locked in id order before any rule is checked, so concurrent deciders
    serialise on them and a stale version is seen as stale, never overwritten.
    """
    rows = await conn.fetch(_q.lock_line_items, [r.id for r in requests])
    current = {row["id"]: line_item_from_row(row) for row in rows}
    adjusted = frozenset(
        row["adjusts_id"] for row in await conn.fetch(_q.adjusted_among, list(current))
    )
    decided: list[LineItem] = []
    events: list[tuple[audit.Event, ...]] = []
    for step in plan(who, current, requests, adjusted, own or NOBODYS):
        row = await conn.fetchrow(
            _q.decide_line_item, step.before.id, step.status, who.actor, step.reason
        )
        assert row is not None  # the row is locked by this transaction
        after = line_item_from_row(row)
        events.append(
            (audit.Event(after.fleet_id, "line_item", after.id, step.action, step.before, after),)
        )
        decided.append(after)
    return Decided(decided, tuple(events))


async def list_charge_records(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    vehicle_id: UUID | None,
    from_: date | None,
    to: date | None,
    unpriced: bool,
    after: After,
    limit: int,
) -> list[ChargeRecord]:
    rows = await conn.fetch(
        _q.list_charge_records,
        fleet_id,
        employee_id,
        vehicle_id,
        from_,
        to,
        unpriced,
        after.created_at,
        after.id,
        limit,
    )
    return [ChargeRecord.model_validate(dict(row)) for row in rows]
