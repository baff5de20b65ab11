"""Query-string models shared by list endpoints."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from billing.db.pages import DEFAULT_LIMIT, MAX_LIMIT
from billing.domain.changes import MAX_FEED_LIMIT, FeedEntity
from billing.domain.line_items import LineItemKind, LineItemStatus, Period
from billing.domain.models import Entity, SyncState
from billing.domain.statements import StatementStatus


def _iso_date(value: object) -> object:
    # pydantic would also read "0" or "1700000000" as a Unix time; a query date is YYYY-MM-DD
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


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
    on: IsoDate | None = None


class AuditQuery(PageQuery):
    entity: Entity | None = None
    entity_id: UUID | None = None


class LineItemQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    vehicle_id: UUID | None = None
    status: LineItemStatus | None = None
    kind: LineItemKind | None = None
    period: Period | None = Field(default=None, description="billing month, YYYY-MM")
    from_: IsoDate | None = Field(
        default=None, alias="from", description="first charge date, inclusive"
    )
    to: IsoDate | None = Field(default=None, description="last charge date, inclusive")

    @model_validator(mode="after")
    def _range(self) -> LineItemQuery:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


class ChargeRecordQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    vehicle_id: UUID | None = None
    from_: IsoDate | None = Field(default=None, alias="from", description="first day, inclusive")
    to: IsoDate | None = Field(default=None, description="last day, inclusive")
    unpriced: bool = Field(
        default=False, description="only records with home kWh and no charge line yet"
    )


class ChangesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="the `next_cursor` of the previous page; absent: from the start"
    )
    limit: Annotated[int, Field(ge=1, le=MAX_FEED_LIMIT)] = DEFAULT_LIMIT
    fleet_id: UUID | None = Field(default=None, description="admin keys: one fleet only")
    entity: FeedEntity | None = None


class StatementQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    period: Period | None = Field(default=None, description="billing month, YYYY-MM")
    status: StatementStatus | None = None


class CreditNoteQuery(PageQuery):
    fleet_id: UUID | None = None
    employee_id: UUID | None = None
    statement_id: UUID | None = None


class PayrollExportQuery(PageQuery):
    fleet_id: UUID | None = None
