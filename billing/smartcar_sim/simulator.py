"""The simulator object: all state of one simulated Smartcar, and its in-process API."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from uuid import UUID

from billing.smartcar_sim.accounts import DEFAULT_SCOPES, Accounts, TokenPair, User
from billing.smartcar_sim.data import DayEnergy, VehicleProfile, day_energy, make_profile
from billing.smartcar_sim.faults import FaultPlan, TokenFault, TokenFaultKind, parse_fault
from billing.smartcar_sim.limits import TokenBucket, VehicleGate
from billing.smartcar_sim.options import SimulatorOptions
from billing.smartcar_sim.stats import Counters, RecordCall, SimStats
from billing.smartcar_sim.wire import retry_after, timestamp

# How `--vehicles N` spreads vehicles over users: mostly one car each, some with two or three.
_USER_SIZES = (1, 1, 1, 2, 1, 3)
# Users made up front stand for connections made a while ago, so a full window is readable.
PRECREATED_HISTORY_DAYS = 30


@dataclass(frozen=True)
class SimUser:
    """A simulated Smartcar user with its vehicles and its newest token pair."""

    user_id: str
    vehicle_ids: tuple[str, ...]
    granted_at: datetime
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "vehicle_ids": list(self.vehicle_ids),
            "granted_at": timestamp(self.granted_at),
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": timestamp(self.access_expires_at),
            "refresh_expires_at": timestamp(self.refresh_expires_at),
        }


def _sim_user(user: User, pair: TokenPair) -> SimUser:
    return SimUser(
        user_id=user.user_id,
        vehicle_ids=tuple(user.vehicle_ids),
        granted_at=user.granted_at,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_expires_at=pair.access_expires_at,
        refresh_expires_at=pair.refresh_expires_at,
    )


class Simulator:
    """A stand-in for Smartcar's v2 API, Connect and token endpoint, for development, demos,
    tests and benchmarks. It is a simulator: tokens are not secret here (`GET /sim/users`
    lists them) and the `/sim/*` endpoints let anyone steer it.

    All state lives on the instance; `app.build_app()` builds an aiohttp application
    serving it, `server.serve()` (or `run_simulator`) runs one on a real socket.
    """

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        opts = self.options
        self._offset = timedelta()
        self._ids = Random(f"{opts.seed}|ids")
        self._latency = Random(f"{opts.seed}|latency")
        self._url: str | None = None
        self.accounts = Accounts(
            access_ttl=timedelta(seconds=opts.access_ttl_s),
            refresh_ttl=timedelta(seconds=opts.refresh_ttl_s),
            grace=timedelta(seconds=opts.refresh_grace_s),
            code_ttl=timedelta(seconds=opts.code_ttl_s),
        )
        self.vehicles: dict[str, VehicleProfile] = {}
        self.owners: dict[str, str] = {}
        self.bucket = TokenBucket(opts.rate_burst, opts.rate_per_minute, self.now())
        self.gate = VehicleGate(opts.vehicle_min_interval_s, opts.vehicle_monthly_quota)
        self.faults = FaultPlan(opts.seed, opts.fault_rate, opts.random_faults)
        self._scripted: dict[str, deque[list[dict[str, Any]]]] = {}
        self.counters = Counters()
        remaining = opts.vehicles
        while remaining > 0:
            size = min(remaining, _USER_SIZES[self._ids.randrange(len(_USER_SIZES))])
            self.create_user(size)
            remaining -= size

    # Time

    def now(self) -> datetime:
        """The simulator's time: the injected clock plus any `advance()`."""
        now = self.options.clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the simulator's time forward (tokens expire, limits refill, days pass)."""
        self._offset += timedelta(seconds=seconds)
        return self.now()

    # Users and vehicles

    def new_id(self) -> str:
        return str(UUID(int=self._ids.getrandbits(128), version=4))

    def add_user(
        self, n_vehicles: int, granted_at: datetime, *, timezone: str | None = None
    ) -> User:
        """A user owning `n_vehicles` new vehicles, without tokens yet; the vehicles' time
        zone is `timezone`, or drawn per vehicle."""
        if not 0 <= n_vehicles <= 100:
            raise ValueError("a simulated user has 0 to 100 vehicles")
        user = User(self.new_id(), [], granted_at)
        for _ in range(n_vehicles):
            vehicle_id = self.new_id()
            self.vehicles[vehicle_id] = make_profile(
                self.options.seed, len(self.vehicles), vehicle_id, timezone
            )
            self.owners[vehicle_id] = user.user_id
            user.vehicle_ids.append(vehicle_id)
        self.accounts.users[user.user_id] = user
        return user

    def create_user(
        self,
        n_vehicles: int = 1,
        *,
        history_days: int = PRECREATED_HISTORY_DAYS,
        scopes: frozenset[str] = DEFAULT_SCOPES,
        timezone: str | None = None,
    ) -> SimUser:
        """A user with `n_vehicles` vehicles and a token pair, as if the owner had connected
        `history_days` ago (that much history is readable), for importing without Connect.
        `timezone` sets the vehicles' zone (drawn per vehicle otherwise)."""
        now = self.now()
        user = self.add_user(n_vehicles, now - timedelta(days=history_days), timezone=timezone)
        return _sim_user(user, self.accounts.issue_pair(user.user_id, scopes, now))

    def users(self) -> list[SimUser]:
        """Every user holding tokens, with its newest pair (revoked users and Connect users
        whose code was not exchanged yet have none)."""
        return [
            _sim_user(user, user.latest)
            for user in self.accounts.users.values()
            if user.latest is not None
        ]

    def user(self, user_id: str) -> SimUser:
        """The user with its newest token pair; KeyError if it has none."""
        user = self.accounts.users[user_id]
        if user.latest is None:
            raise KeyError(f"user {user_id} holds no tokens")
        return _sim_user(user, user.latest)

    def revoke_user(self, user_id: str) -> None:
        """Invalidate every token of the user (the owner disconnected): reconnect via Connect
        with `sim_user=<id>` to get new ones."""
        self.accounts.revoke(user_id)

    def profile(self, vehicle_id: str) -> VehicleProfile:
        return self.vehicles[vehicle_id]

    def granted_day(self, vehicle_id: str) -> date:
        user = self.accounts.users[self.owners[vehicle_id]]
        return self.vehicles[vehicle_id].local_day(user.granted_at)

    def day_energy(self, vehicle_id: str, day: date) -> DayEnergy:
        """The numbers a read now would return for that day (the simulator's ground truth)."""
        profile = self.vehicles[vehicle_id]
        return day_energy(profile, self.options.seed, day, profile.today(self.now()))

    # Faults

    def set_fault(
        self,
        vehicle_id: str | None,
        kind: str,
        count: int = 1,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        """Answer the next `count` charge-records calls for the vehicle (None: any vehicle)
        with `kind`: `TYPE`, `TYPE:CODE` or a special kind (see `faults.SPECIAL_KINDS`)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if vehicle_id is not None and vehicle_id not in self.vehicles:
            raise KeyError(vehicle_id)
        self.faults.add(vehicle_id, parse_fault(kind, retry_after_s), count)

    def set_token_fault(
        self, kind: TokenFaultKind, count: int = 1, *, delay_s: float = 0.0
    ) -> None:
        """Disturb the next `count` refresh grants: `slow` (answer after `delay_s`), `drop`
        (refresh, then never answer), `reset` (refresh, then close the connection),
        `server_error` or `invalid_grant` (no refresh happens)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self.faults.add_token(TokenFault(kind, delay_s), count)

    def clear_faults(self) -> None:
        self.faults.clear()
        self._scripted.clear()

    def set_records(self, vehicle_id: str, records: list[dict[str, Any]], count: int = 1) -> None:
        """Answer the next `count` successful charge-records calls for the vehicle with exactly
        these `records` (whatever the window asked), to play a misbehaving upstream."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if vehicle_id not in self.vehicles:
            raise KeyError(vehicle_id)
        self._scripted.setdefault(vehicle_id, deque()).extend([records] * count)

    def scripted_records(self, vehicle_id: str) -> list[dict[str, Any]] | None:
        """The next records queued by `set_records` for the vehicle, if any."""
        queue = self._scripted.get(vehicle_id)
        return queue.popleft() if queue else None

    # Counting

    def stats(self) -> SimStats:
        return self.counters.snapshot()

    def reset_stats(self) -> None:
        self.counters = Counters()

    def record_calls(self, vehicle_id: str) -> tuple[RecordCall, ...]:
        return tuple(self.counters.record_calls.get(vehicle_id, ()))

    # Helpers for the handlers

    async def delay(self) -> None:
        """The configured latency with a small deterministic jitter (±10 %)."""
        latency = self.options.latency_ms
        if latency > 0:
            await asyncio.sleep(latency * self._latency.uniform(0.9, 1.1) / 1000)

    def retry_after(self, seconds: float) -> str:
        return retry_after(seconds, self.now(), self.options.retry_after_style)

    # Serving

    @property
    def url(self) -> str:
        """The base URL while `server.serve()` runs (Connect, auth and API all live under it)."""
        if self._url is None:
            raise RuntimeError("the simulator is not being served")
        return self._url

    def served_at(self, url: str | None) -> None:
        """Record where the simulator is being served (None: no longer)."""
        self._url = url
