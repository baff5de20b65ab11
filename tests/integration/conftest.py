"""Fixtures for the Smartcar side: a simulator on a real socket and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import SecretStr

from billing.config import Settings, load_settings
from billing.crypto import TokenCipher
from billing.db import vehicles
from billing.db.pool import Pool, transaction
from billing.domain.models import Employee, TokenImport, VehicleCreate
from billing.smartcar_sim import Simulator, SimulatorOptions, run_simulator
from billing.smartcar_sim.simulator import SimUser
from billing.sync.runner import sync_context
from billing.sync.vehicle import SyncContext
from tests.conftest import SECRET_KEY


@pytest.fixture
def sim_options() -> SimulatorOptions:
    return SimulatorOptions(seed=7, rate_burst=1000, rate_per_minute=1000, vehicle_min_interval_s=0)


@pytest.fixture
async def sim(sim_options: SimulatorOptions) -> AsyncIterator[Simulator]:
    async with run_simulator(sim_options) as simulator:
        yield simulator


@pytest.fixture
def sync_settings(db_dsn: str, sim: Simulator, sim_options: SimulatorOptions) -> Settings:
    assert sim.url is not None
    return load_settings(
        database_url=db_dsn,
        secret_key=SECRET_KEY,
        log_format="json",
        smartcar_api_url=sim.url,
        smartcar_auth_url=sim.url,
        smartcar_connect_url=sim.url,
        smartcar_client_id=sim_options.client_id,
        smartcar_client_secret=sim_options.client_secret,
        smartcar_redirect_uri="http://127.0.0.1:9/v1/connect/callback",
        smartcar_timeout_s=5,
        smartcar_rate_burst=1000,
        smartcar_rate_per_minute=1000,
    )


@pytest.fixture
async def sync_ctx(sync_settings: Settings, pool: Pool) -> AsyncIterator[SyncContext]:
    async with sync_context(sync_settings, pool) as ctx:
        yield ctx


async def import_vehicle(
    pool: Pool, employee: Employee, user: SimUser, index: int = 0, *, expired: bool = False
) -> UUID:
    """Register one of a simulated user's vehicles with that user's tokens."""
    assert user.access_token is not None
    assert user.refresh_token is not None
    tokens = TokenImport(
        access_token=SecretStr(user.access_token),
        refresh_token=SecretStr(user.refresh_token),
        access_expires_at=datetime(2000, 1, 1, tzinfo=UTC) if expired else user.access_expires_at,
    )
    now = datetime.now(UTC)
    async with transaction(pool) as conn:
        connection_id = await vehicles.insert_connection(
            conn, TokenCipher(SECRET_KEY), employee.id, tokens, now
        )
        await conn.execute(
            "UPDATE smartcar_connections SET smartcar_user_id = $2 WHERE id = $1",
            connection_id,
            user.user_id,
        )
        vehicle = await vehicles.insert_vehicle(
            conn,
            VehicleCreate(
                employee_id=employee.id, smartcar_vehicle_id=user.vehicle_ids[index], make="TESLA"
            ),
            fleet_id=employee.fleet_id,
            connection_id=connection_id,
            granted_on=user.granted_at,
        )
    return vehicle.id
