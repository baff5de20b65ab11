"""Typed identifiers, so a vehicle id cannot be passed where an employee id is meant."""

from __future__ import annotations

from typing import NewType
from uuid import UUID

FleetId = NewType("FleetId", UUID)
EmployeeId = NewType("EmployeeId", UUID)
VehicleId = NewType("VehicleId", UUID)
TariffId = NewType("TariffId", UUID)
ConnectionId = NewType("ConnectionId", UUID)
ChargeRecordId = NewType("ChargeRecordId", UUID)
LineItemId = NewType("LineItemId", UUID)
ApiKeyId = NewType("ApiKeyId", UUID)
