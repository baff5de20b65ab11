"""The change feed: positions in the commit order of the audit log, and the pages it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from billing.domain.models import Record

# The entities of the public contract; internal ones (api keys, connections) stay out.
FeedEntity = Literal[
    "fleet",
    "employee",
    "vehicle",
    "tariff",
    "charge_record",
    "line_item",
    "statement",
    "credit_note",
    "payroll_export",
]
FEED_ENTITIES: tuple[FeedEntity, ...] = (
    "fleet",
    "employee",
    "vehicle",
    "tariff",
    "charge_record",
    "line_item",
    "statement",
    "credit_note",
    "payroll_export",
)
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """Just after the audit event (xid, id); the feed is ordered by both."""

    xid: int = 0
    id: int = 0


def next_position(after: Position, last: Position | None, *, full: bool, horizon: int) -> Position:
    """Where the next page starts.

    Every event whose transaction id is below `horizon` (the oldest transaction still running
    when the page was read) is committed and final. A page that is not full has handed out all
    of those the caller may see, so the position can move to the horizon: the next poll skips
    what it would only filter out again.
    """
    position = max(after, last) if last is not None else after
    if full:
        return position
    return max(position, Position(horizon - 1, _MAX_ID))


class Change(Record):
    cursor: str = Field(description="the position just after this change")
    at: datetime
    entity: FeedEntity
    id: UUID = Field(description="the changed object's id")
    action: str
    actor: str
    fleet_id: UUID | None
    data: dict[str, Any] | None = Field(description="the object after the change")


class ChangePage(Record):
    changes: list[Change]
    next_cursor: str = Field(description="pass back as `after`; present even on an empty page")
