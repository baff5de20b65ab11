"""Master data as typed records: what the API accepts and what the database hands back."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from billing.domain.currencies import minor_unit

# Not places: `localtime` is whatever the server's clock is set to, `Factory` means "unset".
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_TIMEZONES = frozenset(
    name
    for name in available_timezones()
    if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
)
# Plain decimals of ASCII digits: `Decimal()` alone also reads Arabic-Indic and full-width
# digits, "3_0", "1e2" and "-0".
_DECIMAL_TEXT = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
DECIMAL_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
# Smartcar vehicle ids are UUIDs; this admits one plain path segment of safe characters, so a
# vehicle id can never make a Smartcar URL name another path ("..").
VEHICLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def _check_timezone(name: str) -> str:
    if name not in _TIMEZONES:
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. 'Europe/Berlin')")
    return name


def _plain_decimal(value: object) -> object:
    if isinstance(value, Decimal):  # from Python callers
        if not value.is_finite() or value.is_signed():
            raise ValueError("must be a non-negative decimal")
        return value
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return value
    raise ValueError('must be a decimal string of ASCII digits, such as "0.35"')


def _check_currency(code: str) -> str:
    minor_unit(code)  # raises UnknownCurrency, a ValueError
    return code


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
_DECIMAL_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.35"]}
)
Price = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(ge=0, lt=1000, max_digits=12, decimal_places=6),
    _DECIMAL_SCHEMA,
]
Money = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(ge=0, max_digits=14, decimal_places=4),
    _DECIMAL_SCHEMA,
]
Kwh = Annotated[Decimal, Field(max_digits=10, decimal_places=4)]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Record(BaseModel):
    """Rows as the API returns them."""

    model_config = ConfigDict(from_attributes=True)


# Fleets


class FleetCreate(Input):
    name: Name
    currency: Currency
    timezone: TimeZone


class DatevSettings(Record):
    """The numbers the employer's tax adviser gives for DATEV LODAS payroll imports."""

    consultant_number: str | None = Field(default=None, description="BeraterNr")
    client_number: str | None = Field(default=None, description="MandantenNr")
    wage_type: str | None = Field(default=None, description="Lohnart of the reimbursement")


class Fleet(Record):
    id: UUID
    name: str
    currency: str
    timezone: str
    locale: str = Field(default="en-GB", description="money and dates on documents, e.g. de-DE")
    statement_auto_finalize: bool = Field(
        default=False, description="the worker finalizes the drafts it makes after a month"
    )
    datev: DatevSettings = Field(default_factory=DatevSettings)
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _datev_columns(cls, data: Any) -> Any:
        if isinstance(data, dict) and "datev" not in data and "datev_wage_type" in data:
            data = dict(data)
            data["datev"] = {
                name: data.pop(f"datev_{name}", None)
                for name in ("consultant_number", "client_number", "wage_type")
            }
        return data


# Employees


class EmployeeCreate(Input):
    fleet_id: UUID
    external_ref: Name
    name: Name
    email: Email | None = None
    timezone: TimeZone | None = None
    monthly_cap: Money | None = None


class EmployeeUpdate(Input):
    """Fields a manager may change; `fleet_id` and `id` are not among them."""

    external_ref: Name | None = None
    name: Name | None = None
    email: Email | None = None
    timezone: TimeZone | None = None
    monthly_cap: Money | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> EmployeeUpdate:
        for name in ("external_ref", "name", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Employee(Record):
    id: UUID
    fleet_id: UUID
    external_ref: str
    name: str
    email: str | None
    timezone: str | None
    monthly_cap: Decimal | None
    active: bool
    created_at: datetime
    updated_at: datetime


# Vehicles


SyncState = Literal[
    "new", "ok", "retry_later", "throttled", "needs_reauth", "owner_action", "not_capable", "failed"
]


class TokenImport(Input):
    access_token: SecretStr = Field(min_length=1, max_length=4096)
    refresh_token: SecretStr = Field(min_length=1, max_length=4096)
    access_expires_at: datetime | None = None


class VehicleCreate(Input):
    employee_id: UUID
    smartcar_vehicle_id: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=200, pattern=f"^{VEHICLE_ID.pattern}$"
        ),
    ]
    make: Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
    tokens: TokenImport | None = None


class VehicleSync(Record):
    state: SyncState
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    synced_through: date | None
    next_sync_at: datetime | None
    not_before: datetime | None
    window_deadline: date | None
    last_error: dict[str, Any] | None


class Vehicle(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID
    smartcar_vehicle_id: str
    make: str
    connected: bool
    connection_state: Literal["active", "needs_reauth", "needs_key"] | None
    sync: VehicleSync
    created_at: datetime
    updated_at: datetime


# Tariffs


class TariffCreate(Input):
    fleet_id: UUID
    employee_id: UUID | None = None
    price_per_kwh: Price
    currency: Currency
    valid_from: date
    valid_to: date | None = Field(default=None, description="exclusive; open-ended when absent")
    source: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="where the price comes from; omit it rather than send it empty"
    )

    @model_validator(mode="after")
    def _range(self) -> TariffCreate:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class Tariff(Record):
    id: UUID
    fleet_id: UUID
    employee_id: UUID | None
    price_per_kwh: Decimal
    currency: str
    valid_from: date
    valid_to: date | None
    source: str | None
    created_at: datetime
    correction_id: UUID | None = Field(
        default=None, description="the correction that created this tariff, if one did"
    )
    replaced_by: UUID | None = Field(
        default=None,
        description="the correction that replaced this tariff; a replaced tariff is no longer"
        " in force, and the tariffs that replaced it cover its range",
    )


# Audit


Entity = Literal[
    "fleet",
    "employee",
    "vehicle",
    "tariff",
    "charge_record",
    "line_item",
    "statement",
    "api_key",
    "connection",
    "credit_note",
    "payroll_export",
]


class AuditEvent(Record):
    id: int
    at: datetime
    actor: str
    fleet_id: UUID | None
    entity: Entity
    entity_id: UUID
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None = Field(
        default=None, description="the API request (X-Request-Id) or sync pass that made it"
    )


# Lists: `{"items": [...], "next_cursor": ...}`


class FleetPage(Record):
    items: list[Fleet]
    next_cursor: str | None


class EmployeePage(Record):
    items: list[Employee]
    next_cursor: str | None


class VehiclePage(Record):
    items: list[Vehicle]
    next_cursor: str | None


class TariffPage(Record):
    items: list[Tariff]
    next_cursor: str | None


class AuditEventPage(Record):
    items: list[AuditEvent]
    next_cursor: str | None
