"""Reading the audit log in tests: the events written since the last look."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from billing.db import apikeys, audit
from billing.db.pool import Pool, connection
from billing.domain.access import Principal

Seen = tuple[str, UUID, str, str]  # (entity, entity_id, action, actor)


@dataclass
class AuditLog:
    pool: Pool
    mark: int = 0

    async def new(self) -> list[Seen]:
        """The events since the previous call, oldest first."""
        async with connection(self.pool) as conn:
            events = await audit.list_events(
                conn, fleet_id=None, entity=None, entity_id=None, after_id=self.mark, limit=1000
            )
        if events:
            self.mark = events[-1].id
        return [(e.entity, e.entity_id, e.action, e.actor) for e in events]

    async def skip(self) -> None:
        await self.new()


async def principal(pool: Pool, key: str) -> Principal:
    """The caller a key authenticates as, exactly as the API sees it."""
    async with connection(pool) as conn:
        return await apikeys.authenticate(conn, key)
