"""What the simulator counts: every protocol request it answered, and each charge-records
call with its time, so tests can check that a client waited and never read twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from billing.smartcar_sim.wire import timestamp

# The label of a request that got no HTTP answer (connection reset or abandoned).
NO_ANSWER = "none"
ThrottleScope = Literal["app", "vehicle"]


@dataclass(frozen=True)
class RecordCall:
    """One charge-records request: when it arrived (simulator clock) and how it ended."""

    at: datetime
    status: int | str
    request_id: str

    def to_json(self) -> dict[str, Any]:
        return {"at": timestamp(self.at), "status": self.status, "request_id": self.request_id}


@dataclass(frozen=True)
class SimStats:
    """A snapshot of the counters."""

    requests: int
    by_endpoint: dict[str, int]
    by_status: dict[str, int]
    by_endpoint_status: dict[str, dict[str, int]]
    by_vehicle: dict[str, int]
    code_exchanges: int
    refreshes: int
    refresh_reuses: int
    refresh_rejections: int
    throttles: dict[ThrottleScope, int]
    faults: dict[str, int]
    record_calls: dict[str, tuple[RecordCall, ...]]

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_endpoint": self.by_endpoint,
            "by_status": self.by_status,
            "by_endpoint_status": self.by_endpoint_status,
            "by_vehicle": self.by_vehicle,
            "code_exchanges": self.code_exchanges,
            "refreshes": self.refreshes,
            "refresh_reuses": self.refresh_reuses,
            "refresh_rejections": self.refresh_rejections,
            "throttles": self.throttles,
            "faults": self.faults,
            "record_calls": {
                vehicle: [call.to_json() for call in calls]
                for vehicle, calls in self.record_calls.items()
            },
        }


@dataclass
class Counters:
    by_endpoint_status: dict[str, Counter[str]] = field(default_factory=dict)
    by_vehicle: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    throttles: Counter[ThrottleScope] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    record_calls: dict[str, list[RecordCall]] = field(default_factory=dict)

    def request(self, endpoint: str, status: int | str, vehicle_id: str | None) -> None:
        self.by_endpoint_status.setdefault(endpoint, Counter())[str(status)] += 1
        if vehicle_id is not None:
            self.by_vehicle[vehicle_id] += 1

    def record_call(self, vehicle_id: str, call: RecordCall) -> None:
        self.record_calls.setdefault(vehicle_id, []).append(call)

    def snapshot(self) -> SimStats:
        by_status: Counter[str] = Counter()
        for statuses in self.by_endpoint_status.values():
            by_status.update(statuses)
        return SimStats(
            requests=sum(by_status.values()),
            by_endpoint={name: sum(c.values()) for name, c in self.by_endpoint_status.items()},
            by_status=dict(by_status),
            by_endpoint_status={name: dict(c) for name, c in self.by_endpoint_status.items()},
            by_vehicle=dict(self.by_vehicle),
            code_exchanges=self.events["code_exchange"],
            refreshes=self.events["refresh"],
            refresh_reuses=self.events["refresh_reuse"],
            refresh_rejections=self.events["refresh_rejected"],
            throttles={"app": self.throttles["app"], "vehicle": self.throttles["vehicle"]},
            faults=dict(self.faults),
            record_calls={v: tuple(calls) for v, calls in self.record_calls.items()},
        )
