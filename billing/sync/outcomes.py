"""What a read of one vehicle came to: its outcome, the vehicle's next sync state, and the
error it records, chosen from the Smartcar error's advice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from billing.domain.models import SyncState
from billing.domain.sync_rules import Outcome, state_after
from billing.smartcar.errors import SmartcarError


@dataclass(frozen=True, slots=True)
class SyncResult:
    vehicle_id: UUID
    outcome: Outcome
    records: int = 0
    line_items: int = 0
    error: dict[str, Any] | None = None
    # Whether a charge-records call went out; when not, its budget token is given back.
    called: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "vehicle_id": str(self.vehicle_id),
            "outcome": self.outcome,
            "records": self.records,
            "line_items": self.line_items,
            "error": self.error,
        }


def local_error(type_: str, description: str) -> dict[str, Any]:
    return {
        "type": type_,
        "code": None,
        "status": None,
        "request_id": None,
        "retry_after_s": None,
        "description": description,
    }


def state_for(error: SmartcarError) -> SyncState:
    return state_after(error.advice)


def outcome_of(error: SmartcarError) -> Outcome:
    if error.advice == "refresh_token":
        return "needs_reauth"
    return error.outcome
