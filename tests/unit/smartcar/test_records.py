from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.smartcar.errors import SmartcarError
from billing.smartcar.records import ChargeRecordsResult, json_object, parse_charge_records

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADERS = {
    "SC-Request-Id": "req-42",
    "SC-Fetched-At": "2026-03-01T11:58:00.000Z",
    "SC-Data-Age": "2026-03-01T11:00:00.000Z",
    "SC-Unit-System": "metric",
}


def record_text(date: str = "1772265600", **energies: str) -> str:
    fields = {"home": "1", "other": "0", "superCharger": "0", "total": "1", **energies}
    parts = [f'"date": {date}', *(f'"{k}": {v}' for k, v in fields.items())]
    return "{" + ", ".join(parts) + "}"


def body(*records: str) -> bytes:
    return ('{"records": [' + ", ".join(records) + "]}").encode()


def parse(data: bytes, headers: dict[str, str] | None = None) -> ChargeRecordsResult:
    return parse_charge_records(data, HEADERS if headers is None else headers, now=NOW)


def rejected(data: bytes) -> SmartcarError:
    with pytest.raises(SmartcarError) as info:
        parse(data)
    error = info.value
    assert (error.type, error.advice, error.outcome) == ("INVALID_PAYLOAD", "bad_payload", "failed")
    assert (error.status, error.request_id) == (200, "req-42")
    return error


@pytest.mark.parametrize(
    ("date", "instant"),
    [
        ("1657436400", datetime(2022, 7, 10, 7, 0, tzinfo=UTC)),
        ("1657436400.0", datetime(2022, 7, 10, 7, 0, tzinfo=UTC)),
        ("1657436400.25", datetime(2022, 7, 10, 7, 0, 0, 250000, tzinfo=UTC)),
        ('"2022-07-10T15:40:27.000Z"', datetime(2022, 7, 10, 15, 40, 27, tzinfo=UTC)),
        ('"2022-07-10T00:00:00-07:00"', datetime(2022, 7, 10, 7, 0, tzinfo=UTC)),
        ('"2022-07-10"', datetime(2022, 7, 10, tzinfo=UTC)),
        ('"2022-07-10T08:00:00"', datetime(2022, 7, 10, 8, 0, tzinfo=UTC)),
    ],
)
def test_date_forms(date: str, instant: datetime) -> None:
    (record,) = parse(body(record_text(date))).records
    assert record.day_start == instant
    assert record.day_start.tzinfo is not None


def test_energies_are_exact_decimals() -> None:
    text = record_text(home="0.1", other="2", superCharger="10.25", total="12.35")
    (record,) = parse(body(text)).records
    assert record.home_kwh == Decimal("0.1")
    assert str(record.home_kwh) == "0.1"
    assert record.other_kwh == Decimal(2)
    assert record.supercharger_kwh == Decimal("10.25")
    assert record.total_kwh == Decimal("12.35")
    for value in (record.home_kwh, record.other_kwh, record.supercharger_kwh, record.total_kwh):
        assert type(value) is Decimal


def test_raw_is_kept_as_received() -> None:
    text = (
        '{"date": 1657436400, "home": 0.10, "other": 0, "superCharger": 1e1,'
        ' "total": 10.10, "extra": {"x": [1, 2.50, null, true, "s"]}}'
    )
    (record,) = parse(body(text)).records
    assert record.raw["home"] == Decimal("0.10")
    assert record.raw["extra"]["x"][1] == Decimal("2.50")
    assert record.raw_json() == (
        '{"date":1657436400,"home":0.10,"other":0,"superCharger":1E+1,'
        '"total":10.10,"extra":{"x":[1,2.50,null,true,"s"]}}'
    )
    assert json.loads(record.raw_json(), parse_float=Decimal) == record.raw


def test_headers_are_kept() -> None:
    result = parse(body(record_text(), record_text("1772352000")))
    assert len(result.records) == 2
    assert result.request_id == "req-42"
    assert result.fetched_at == datetime(2026, 3, 1, 11, 58, tzinfo=UTC)
    assert result.data_age == "2026-03-01T11:00:00.000Z"
    assert result.unit_system == "metric"


@pytest.mark.parametrize("fetched_at", [None, "yesterday-ish"])
def test_fetched_at_falls_back_on_now(fetched_at: str | None) -> None:
    headers = {} if fetched_at is None else {"SC-Fetched-At": fetched_at}
    result = parse(body(), headers)
    assert (result.records, result.request_id, result.fetched_at) == ((), None, NOW)
    assert (result.data_age, result.unit_system) == (None, None)


def test_fetched_at_as_http_date() -> None:
    result = parse(body(), {"sc-fetched-at": "Sun, 01 Mar 2026 11:00:00 GMT"})
    assert result.fetched_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("energies", "message"),
    [
        ({"home": "-1.5"}, "records[1].home: -1.5 is negative"),
        ({"other": "-3"}, "records[1].other: -3 is negative"),
        ({"home": "NaN"}, "records[1].home: NaN is not a finite number"),
        ({"total": "Infinity"}, "records[1].total: Infinity is not a finite number"),
        ({"superCharger": "-Infinity"}, "records[1].superCharger: -Infinity is not a finite"),
        ({"home": '"1.5"'}, "records[1].home: expected a number of kWh, got string '1.5'"),
        ({"home": "true"}, "records[1].home: expected a number of kWh, got boolean true"),
        ({"other": "false"}, "records[1].other: expected a number of kWh, got boolean false"),
        ({"home": "null"}, "records[1].home: expected a number of kWh, got null"),
        ({"home": "[1]"}, r"records[1].home: expected a number of kWh, got array [1]"),
        ({"total": "1e9"}, "records[1].total: 1E+9 kWh in one day is implausible"),
    ],
)
def test_bad_energy_values(energies: dict[str, str], message: str) -> None:
    error = rejected(body(record_text(), record_text(**energies)))
    assert error.description.startswith(message)


@pytest.mark.parametrize("field", ["home", "other", "superCharger", "total"])
def test_missing_energy(field: str) -> None:
    item = {"date": 1657436400, "home": 1, "other": 0, "superCharger": 0, "total": 1}
    del item[field]
    error = rejected(json.dumps({"records": [item]}).encode())
    assert error.description == f"records[0].{field}: missing"


@pytest.mark.parametrize(
    ("date", "message"),
    [
        (None, "records[0].date: missing"),
        ("true", "records[0].date: expected a UNIX timestamp or an ISO-8601 string, got boolean"),
        ("null", "records[0].date: expected a UNIX timestamp or an ISO-8601 string, got null"),
        ('"10/07/2022"', "records[0].date: '10/07/2022' is not an ISO-8601 date"),
        ('"2022-13-45"', "records[0].date: '2022-13-45' is not an ISO-8601 date"),
        ("1657436400000", "records[0].date: 1657436400000 is not a UNIX time in seconds"),
        ("-5", "records[0].date: -5 is not a UNIX time in seconds since 2012"),
        ("1e999", "records[0].date: 1E+999 is not a UNIX time in seconds"),
        ('"1999-01-01"', "records[0].date: 1999-01-01T00:00:00+00:00 is out of range"),
        ('"2026-03-10"', "records[0].date: 2026-03-10T00:00:00+00:00 is out of range"),
    ],
)
def test_bad_dates(date: str | None, message: str) -> None:
    if date is None:
        text = '{"home": 1, "other": 0, "superCharger": 0, "total": 1}'
    else:
        text = record_text(date)
    error = rejected(body(text))
    assert error.description.startswith(message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "response body is not JSON"),
        (b"<html>oops</html>", "response body is not JSON"),
        (b"\xff\xfe", "response body is not UTF-8"),
        (b"[]", "response body: expected an object, got array []"),
        (b"{}", "records: missing"),
        (b'{"records": null}', "records: expected an array, got null"),
        (b'{"records": {"a": 1}}', "records: expected an array, got object"),
        (b'{"records": [1]}', "records[0]: expected an object, got number 1"),
    ],
)
def test_bad_shapes(data: bytes, message: str) -> None:
    assert rejected(data).description.startswith(message)


def test_json_object() -> None:
    assert json_object(b'{"a": 0.1}', status=200, request_id=None) == {"a": Decimal("0.1")}
    with pytest.raises(SmartcarError, match="expected an object") as info:
        json_object(b'"x"', status=201, request_id="r")
    assert (info.value.status, info.value.request_id) == (201, "r")
