"""Keyset pagination over (created_at, id) with opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from billing.domain.errors import InvalidData

_FIRST = datetime(1, 1, 2, tzinfo=UTC)
_LAST = datetime(9999, 12, 30, tzinfo=UTC)
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class After:
    """The position after which the next page starts; both None for the first page."""

    created_at: datetime | None = None
    id: UUID | None = None


def decode_cursor(cursor: str | None) -> After:
    if not cursor:
        return After()
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))
        created_at = datetime.fromisoformat(raw[0])
        # Cursors hold aware timestamps PostgreSQL can store; any other was not handed out.
        if created_at.tzinfo is None or not _FIRST < created_at < _LAST:
            raise ValueError
        return After(created_at, UUID(raw[1]))
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, binascii.Error):
        raise InvalidData("cursor is not one this service handed out") from None


def encode_cursor(created_at: datetime, id_: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> UUID: ...


def next_cursor(items: Sequence[Keyed], limit: int) -> str | None:
    """A cursor when the page is full (there may be more), else None."""
    if len(items) < limit:
        return None
    return encode_cursor(items[-1].created_at, items[-1].id)
