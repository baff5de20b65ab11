"""Query-string models shared by list endpoints."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from billing.db.pages import DEFAULT_LIMIT, MAX_LIMIT
from billing.domain.models import Entity, SyncState


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str, Field(max_length=200)] | None = None


class FleetQuery(PageQuery):
    pass


class EmployeeQuery(PageQuery):
    fleet_id: UUID | None = None


class VehicleQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    sync_state: SyncState | None = None


class TariffQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    on: date | None = None


class AuditQuery(PageQuery):
    entity: Entity | None = None
    entity_id: UUID | None = None
