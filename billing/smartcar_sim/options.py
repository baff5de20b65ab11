"""How a simulator is set up: one frozen value, checked when it is made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from billing.smartcar_sim.faults import DEFAULT_RANDOM_FAULTS, parse_fault
from billing.smartcar_sim.wire import RetryAfterStyle


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SimulatorOptions:
    """Every knob of the simulator; the defaults are Smartcar's documented ones.

    `vehicles` pre-creates that many vehicles spread over users whose access began 30 days
    ago. `clock` is read for every decision that depends on time (token expiry, rate limits,
    the 30-day window, restatements), so tests can move time. `hang_s` is how long a
    `timeout` fault keeps a request open (longer than any sane client timeout).
    `history_policy` says what a `startDate` older than 30 days gets: clamped to the oldest
    readable day, or a 400 VALIDATION error. `vehicle_min_interval_s` is a per-vehicle
    throttle (429 RATE_LIMIT:VEHICLE for a read sooner than that after the last one); Smartcar
    does not publish one, so it is off (0) unless a test or benchmark sets it. A vehicle
    still waits out any Retry-After it was given.
    """

    vehicles: int = 0
    seed: int = 0
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    rate_burst: int = 120
    rate_per_minute: float = 2.0
    vehicle_min_interval_s: float = 0.0
    vehicle_monthly_quota: int | None = None
    access_ttl_s: int = 7200
    refresh_grace_s: float = 60.0
    refresh_ttl_s: int = 60 * 86400
    code_ttl_s: int = 600
    hang_s: float = 330.0
    history_policy: Literal["clamp", "reject"] = "clamp"
    retry_after_style: RetryAfterStyle = "seconds"
    random_faults: tuple[str, ...] = DEFAULT_RANDOM_FAULTS
    client_id: str = "sim-client"
    client_secret: str = "sim-secret"  # noqa: S105 (well-known, like the client id)
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        checks = {
            "vehicles": self.vehicles >= 0,
            "latency_ms": self.latency_ms >= 0,
            "fault_rate": 0 <= self.fault_rate <= 1,
            "rate_burst": self.rate_burst >= 1,
            "rate_per_minute": self.rate_per_minute >= 0,
            "vehicle_min_interval_s": self.vehicle_min_interval_s >= 0,
            "vehicle_monthly_quota": (self.vehicle_monthly_quota or 0) >= 0,
            "access_ttl_s": self.access_ttl_s > 0,
            "refresh_grace_s": self.refresh_grace_s >= 0,
            "refresh_ttl_s": self.refresh_ttl_s > 0,
            "code_ttl_s": self.code_ttl_s > 0,
            "hang_s": self.hang_s >= 0,
            "client_id": bool(self.client_id),
            "client_secret": bool(self.client_secret),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"invalid simulator option {name}={getattr(self, name)!r}")
        for kind in self.random_faults:
            parse_fault(kind)
