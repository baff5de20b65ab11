"""Smartcar's limits: the application token bucket, the per-vehicle throttle and the monthly
per-vehicle plan quota. All of them read time from the simulator's clock."""

from __future__ import annotations

from datetime import datetime, timedelta


class TokenBucket:
    """`burst` requests at once, refilled continuously at `per_minute`."""

    def __init__(self, burst: int, per_minute: float, now: datetime) -> None:
        self._burst = float(burst)
        self._per_second = per_minute / 60
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: datetime) -> float | None:
        """Take one request; None if allowed, else seconds until one is available."""
        elapsed = max(0.0, (now - self._updated).total_seconds())
        self._tokens = min(self._burst, self._tokens + elapsed * self._per_second)
        self._updated = max(now, self._updated)
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        if self._per_second <= 0:
            return 3600.0
        return (1 - self._tokens) / self._per_second

    @property
    def available(self) -> float:
        return self._tokens


class VehicleGate:
    """Per vehicle: no call before `min_interval` after the last one that reached it, nor
    before an announced Retry-After; plus the plan's monthly call quota."""

    def __init__(self, min_interval_s: float, monthly_quota: int | None) -> None:
        self._interval = timedelta(seconds=min_interval_s)
        self._quota = monthly_quota
        self._next: dict[str, datetime] = {}
        self._monthly: dict[tuple[str, str], int] = {}

    def wait(self, vehicle_id: str, now: datetime) -> float | None:
        """Seconds the vehicle is still throttled for, or None."""
        until = self._next.get(vehicle_id)
        if until is None or now >= until:
            return None
        return (until - now).total_seconds()

    def arm(self, vehicle_id: str, now: datetime) -> None:
        self._block(vehicle_id, now + self._interval)

    def block(self, vehicle_id: str, now: datetime, seconds: float) -> None:
        self._block(vehicle_id, now + timedelta(seconds=seconds))

    def _block(self, vehicle_id: str, until: datetime) -> None:
        self._next[vehicle_id] = max(until, self._next.get(vehicle_id, until))

    def over_quota(self, vehicle_id: str, now: datetime) -> bool:
        """Count one call against the month's quota; True if the quota was already spent."""
        if self._quota is None:
            return False
        key = (vehicle_id, now.strftime("%Y-%m"))
        used = self._monthly.get(key, 0)
        if used >= self._quota:
            return True
        self._monthly[key] = used + 1
        return False
