"""The audit log: every write records who did what, with the state before and after."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.models import AuditEvent, Entity

_q = queries("audit")


def snapshot(model: BaseModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json")


async def record(
    conn: Connection,
    *,
    actor: str,
    fleet_id: UUID | None,
    entity: Entity,
    entity_id: UUID,
    action: str,
    before: BaseModel | None = None,
    after: BaseModel | None = None,
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
    )


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
