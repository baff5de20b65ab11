"""The change feed over the audit log, in commit-safe order.

Events are ordered by (transaction id, event id) and only handed out once every transaction
with a smaller id has ended, so a transaction that commits late can never slip in behind a
position a client already holds: following `next_cursor` yields every change exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from billing.db.pool import Connection
from billing.db.queries import queries
from billing.domain.changes import (
    FEED_ENTITIES,
    Change,
    ChangePage,
    FeedEntity,
    Position,
    next_position,
    public_data_json,
)
from billing.domain.errors import InvalidData

_q = queries("changes")


@dataclass(frozen=True, slots=True)
class HeldBack:
    """The oldest running transaction on the server, which the feed waits for.

    `age_s` is None when none runs, or when its start is not visible to this role.
    """

    age_s: float | None
    xids: int


async def held_back(conn: Connection) -> HeldBack:
    row = await conn.fetchrow(_q.held_back)
    assert row is not None  # the query always returns one row
    return HeldBack(row["age_s"], row["xids"])


def encode_position(position: Position) -> str:
    raw = json.dumps([str(position.xid), position.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str | None) -> Position:
    if not cursor:
        return Position()
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))
    except (ValueError, binascii.Error):
        raw = None
    valid = (
        isinstance(raw, list)
        and len(raw) == 2
        and isinstance(raw[0], str)
        and raw[0].isascii()
        and raw[0].isdigit()
        and type(raw[1]) is int
        and int(raw[0]) < 2**63
        and 0 <= raw[1] < 2**63
    )
    if not valid:
        raise InvalidData("cursor is not one this service handed out")
    return Position(int(raw[0]), raw[1])


async def list_changes(
    conn: Connection,
    *,
    after: Position,
    fleet_id: UUID | None,
    entities: Sequence[FeedEntity] = FEED_ENTITIES,
    limit: int,
) -> ChangePage:
    """The committed changes after `after`, oldest first (runs its own read-only transaction)."""
    # One snapshot for both statements: the horizon and the rows must agree.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        horizon = int(await conn.fetchval(_q.horizon))
        rows = await conn.fetch(
            _q.list_changes,
            str(after.xid),
            after.id,
            str(horizon),
            list(entities),
            fleet_id,
            limit,
        )
    changes = []
    for row in rows:
        position = Position(int(row["xid_text"]), row["id"])
        changes.append(
            # typed by the columns and the query's entity filter: nothing left to validate
            Change.model_construct(
                cursor=encode_position(position),
                at=row["at"],
                entity=row["entity"],
                id=row["entity_id"],
                action=row["action"],
                actor=row["actor"],
                fleet_id=row["fleet_id"],
                data=public_data_json(row["entity"], row["data"]),
            )
        )
    last = Position(int(rows[-1]["xid_text"]), rows[-1]["id"]) if rows else None
    position = next_position(after, last, full=len(rows) == limit, horizon=horizon)
    return ChangePage.model_construct(changes=changes, next_cursor=encode_position(position))
