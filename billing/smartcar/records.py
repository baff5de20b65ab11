"""Tesla charge records as Smartcar sends them, parsed into exact, typed values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict

from billing.smartcar.errors import SmartcarError, get_header

# No single car can take this much energy in a day; a bigger number is a broken payload,
# and letting it through would overflow the numeric columns it is stored in.
MAX_DAILY_KWH: Final = Decimal(10_000)
# Upstream field name → model field name, in the order errors are reported.
ENERGY_FIELDS: Final = (
    ("home", "home_kwh"),
    ("other", "other_kwh"),
    ("superCharger", "supercharger_kwh"),
    ("total", "total_kwh"),
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Smartcar did not exist before this, so an earlier date is a misread field.
_EARLIEST: Final = datetime(2012, 1, 1, tzinfo=UTC)
# A plain date is read as midnight UTC, which can run up to 14 h ahead of the owner's day.
_FUTURE_SLACK: Final = timedelta(days=2)


class UpstreamChargeRecord(BaseModel):
    """One day of charging for one vehicle, as Smartcar reported it."""

    model_config = ConfigDict(frozen=True)

    # The `date` as an instant; an ISO string keeps the offset it stated.
    day_start: AwareDatetime
    # True for the ISO form (its offset is stated), False for UNIX seconds.
    offset_stated: bool = False
    home_kwh: Decimal
    other_kwh: Decimal
    supercharger_kwh: Decimal
    total_kwh: Decimal
    raw: dict[str, Any]

    def raw_json(self) -> str:
        """The record as received, as JSON text with every number written exactly as sent."""
        return _dump(self.raw)


class ChargeRecordsResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    records: tuple[UpstreamChargeRecord, ...]
    request_id: str | None
    fetched_at: AwareDatetime
    data_age: str | None = None
    unit_system: str | None = None


class _Invalid(Exception):
    pass


def parse_charge_records(
    body: bytes, headers: Mapping[str, str], *, now: datetime, status: int = 200
) -> ChargeRecordsResult:
    """Parse a charge-records response; any defect raises SmartcarError(INVALID_PAYLOAD)."""
    request_id = get_header(headers, "SC-Request-Id")
    try:
        records = _records(body, now)
    except _Invalid as exc:
        raise SmartcarError.bad_payload(str(exc), status=status, request_id=request_id) from None
    return ChargeRecordsResult(
        records=records,
        request_id=request_id,
        fetched_at=_header_instant(get_header(headers, "SC-Fetched-At")) or now,
        data_age=get_header(headers, "SC-Data-Age"),
        unit_system=get_header(headers, "SC-Unit-System"),
    )


def json_object(body: bytes, *, status: int, request_id: str | None) -> dict[str, Any]:
    """Decode a JSON object body with exact numbers; anything else raises INVALID_PAYLOAD."""
    try:
        data = _load(body)
        if not isinstance(data, dict):
            raise _Invalid(f"response body: expected an object, got {_describe(data)[:60]}")
    except _Invalid as exc:
        raise SmartcarError.bad_payload(str(exc), status=status, request_id=request_id) from None
    return data


def _load(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"response body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except ValueError as exc:
        raise _Invalid(f"response body is not JSON: {exc}") from None


def _records(body: bytes, now: datetime) -> tuple[UpstreamChargeRecord, ...]:
    data = _load(body)
    if not isinstance(data, dict):
        raise _Invalid(f"response body: expected an object, got {_describe(data)[:60]}")
    if "records" not in data:
        raise _Invalid("records: missing")
    items = data["records"]
    if not isinstance(items, list):
        raise _Invalid(f"records: expected an array, got {_describe(items)[:60]}")
    return tuple(_record(item, f"records[{index}]", now) for index, item in enumerate(items))


def _record(item: object, where: str, now: datetime) -> UpstreamChargeRecord:
    if not isinstance(item, dict):
        raise _Invalid(f"{where}: expected an object, got {_describe(item)[:60]}")
    if "date" not in item:
        raise _Invalid(f"{where}.date: missing")
    home, other, supercharger, total = (
        _energy(item, key, f"{where}.{key}") for key, _ in ENERGY_FIELDS
    )
    # Every field is checked here (an aware instant, exact finite energies): not again.
    return UpstreamChargeRecord.model_construct(
        day_start=_instant(item["date"], f"{where}.date", now),
        offset_stated=isinstance(item["date"], str),
        raw=item,
        home_kwh=home,
        other_kwh=other,
        supercharger_kwh=supercharger,
        total_kwh=total,
    )


def _energy(item: Mapping[str, Any], key: str, where: str) -> Decimal:
    if key not in item:
        raise _Invalid(f"{where}: missing")
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Invalid(f"{where}: expected a number of kWh, got {_describe(value)}")
    energy = Decimal(value)
    if not energy.is_finite():
        raise _Invalid(f"{where}: {energy} is not a finite number")
    if energy < 0:
        raise _Invalid(f"{where}: {energy} is negative")
    if energy > MAX_DAILY_KWH:
        raise _Invalid(f"{where}: {energy} kWh in one day is implausible")
    return energy


def _instant(value: object, where: str, now: datetime) -> datetime:
    latest = now + _FUTURE_SLACK
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _Invalid(
            f"{where}: expected a UNIX timestamp or an ISO-8601 string, got {_describe(value)}"
        )
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"{where}: {_show(value)} is not an ISO-8601 date") from None
        instant = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    else:
        seconds = Decimal(value)
        if not seconds.is_finite() or not (_EARLIEST.timestamp() <= seconds <= latest.timestamp()):
            raise _Invalid(f"{where}: {seconds} is not a UNIX time in seconds since 2012")
        instant = _EPOCH + timedelta(microseconds=int(seconds * 1_000_000))
    if not _EARLIEST <= instant <= latest:
        raise _Invalid(f"{where}: {instant.isoformat()} is out of range (2012 until now)")
    return instant


def _header_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean true" if value else "boolean false"
    if isinstance(value, str):
        return f"string {_show(value)}"
    kind = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "number"
    return f"{kind} {_dump(value)[:40]}"


def _show(text: str) -> str:
    return repr(text[:40] + "…" if len(text) > 40 else text)


def _dump(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = ",".join(f"{json.dumps(str(k))}:{_dump(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value)
