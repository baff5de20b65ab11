"""A vehicle id is one path segment: ".." never makes a call name another Smartcar path
(other characters are percent-encoded: see test_client.test_vehicle_id_is_one_path_segment)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from aioresponses import aioresponses

from billing.smartcar.client import SmartcarClient
from billing.smartcar.errors import SmartcarError

API = "https://api.test"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("vehicle_id", ["..", "."])
async def test_a_vehicle_id_that_is_not_one_segment_is_refused_before_any_call(
    vehicle_id: str,
) -> None:
    with aioresponses() as mocked:
        async with aiohttp.ClientSession() as session:
            client = SmartcarClient(
                session,
                api_url=API,
                auth_url="https://auth.test",
                client_id="id",
                client_secret=None,
                redirect_uri=None,
                timeout_s=5,
                concurrency=1,
            )
            with pytest.raises(SmartcarError) as raised:
                await client.charge_records(vehicle_id, "token", start=None, end=None, now=NOW)
        assert mocked.requests == {}  # nothing was sent anywhere
    assert raised.value.type == "VALIDATION"
    assert raised.value.outcome == "failed"
