"""The change feed: positions in the commit order of the audit log, and the pages it returns."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, ValidationError

from billing.domain.currencies import MINOR_UNITS
from billing.domain.line_items import ChargeRecord, LineItem, in_minor_units
from billing.domain.models import Employee, Fleet, Record, Tariff, Vehicle

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
# A poller's largest page: a payroll system reads a month of changes in few requests.
MAX_FEED_LIMIT = 1000

# Each entity's public representation (what GET on it answers).
_PUBLIC: dict[str, type[Record]] = {
    "fleet": Fleet,
    "employee": Employee,
    "vehicle": Vehicle,
    "tariff": Tariff,
    "charge_record": ChargeRecord,
    "line_item": LineItem,
}
# The fields each entity shows, looked up once rather than on every key of every snapshot.
PUBLIC_FIELDS: dict[str, frozenset[str]] = {
    entity: frozenset(model.model_fields) for entity, model in _PUBLIC.items()
}


def public_data(entity: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """An audit snapshot as the entity's public representation: internal fields (evidence,
    upstream payloads, token references) dropped, amounts with the currency's minor units,
    values rendered as the API renders them.

    Snapshots that hold only some of the fields (restatements, links) keep those fields.
    """
    if data is None:
        return None
    model = _PUBLIC.get(entity)
    if model is None:
        return dict(data)
    fields = PUBLIC_FIELDS[entity]
    public = {k: v for k, v in data.items() if k in fields}
    currency, amount = public.get("currency"), public.get("amount")
    if isinstance(currency, str) and currency in MINOR_UNITS and amount is not None:
        with contextlib.suppress(ArithmeticError):  # not a number: shown as recorded
            public["amount"] = str(in_minor_units(Decimal(str(amount)), currency))
    try:
        return model.model_validate(public).model_dump(mode="json")
    except ValidationError:
        return public


def public_data_json(entity: str, text: str | None) -> dict[str, Any] | None:
    """`public_data` of a snapshot still in its JSON text: a whole snapshot is read by the
    entity's model straight from the text, its internal fields (an evidence blob, an upstream
    payload) skipped rather than decoded; any other snapshot takes the way above."""
    if text is None:
        return None
    model = _PUBLIC.get(entity)
    if model is not None:
        try:
            public = model.model_validate_json(text).model_dump(mode="json")
        except ValidationError:
            pass
        else:
            currency, amount = public.get("currency"), public.get("amount")
            if isinstance(currency, str) and currency in MINOR_UNITS and amount is not None:
                with contextlib.suppress(ArithmeticError):
                    public["amount"] = str(in_minor_units(Decimal(amount), currency))
            return public
    return public_data(entity, json.loads(text))


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
