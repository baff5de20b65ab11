"""The audit log: every write records who did what, with the state before and after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.models import AuditEvent, Entity
from billing.observability import current_request_id

_q = queries("audit")


Snapshot = BaseModel | Mapping[str, Any] | None


def snapshot(value: Snapshot) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value)


async def record(
    conn: Connection,
    *,
    actor: str,
    fleet_id: UUID | None,
    entity: Entity,
    entity_id: UUID,
    action: str,
    before: Snapshot = None,
    after: Snapshot = None,
) -> None:
    """Append an event; call it inside the transaction that makes the change."""
    await conn.execute(
        _q.insert_event,
        actor,
        fleet_id,
        entity,
        entity_id,
        action,
        snapshot(before),
        snapshot(after),
        current_request_id(),
    )


@dataclass(frozen=True, slots=True)
class Event:
    fleet_id: UUID | None
    entity: Entity
    entity_id: UUID
    action: str
    before: Snapshot = None
    after: Snapshot = None


async def record_many(conn: Connection, *, actor: str, events: Sequence[Event]) -> None:
    """Append events in order, in one round trip; inside the transaction making the changes."""
    request_id = current_request_id()
    await conn.executemany(
        _q.insert_event,
        [
            (
                actor,
                e.fleet_id,
                e.entity,
                e.entity_id,
                e.action,
                snapshot(e.before),
                snapshot(e.after),
                request_id,
            )
            for e in events
        ],
    )


# Events in order, each inner tuple recorded in one round trip, one after the other.
Batches = tuple[tuple[Event, ...], ...]


async def record_batches(conn: Connection, *, actor: str, batches: Batches) -> None:
    """`record_many` of each batch in turn; inside the transaction making the changes."""
    for batch in batches:
        await record_many(conn, actor=actor, events=batch)


async def list_events(
    conn: Connection,
    *,
    fleet_id: UUID | None,
    entity: str | None,
    entity_id: UUID | None,
    after_id: int,
    limit: int,
) -> list[AuditEvent]:
    rows = await conn.fetch(_q.list_events, fleet_id, entity, entity_id, after_id, limit)
    return [AuditEvent.model_validate(dict(row)) for row in rows]
