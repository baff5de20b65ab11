"""Faults the simulator can answer with: kinds, targeted queues and the random draw."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from random import Random
from typing import Literal

from billing.smartcar_sim.wire import ERROR_TYPES

# Faults that are not a v2 error body. `v3_envelope` is `v3:SERVER:INTERNAL`; any error of the
# table can be asked for in the v3 envelope as `v3:TYPE[:CODE]`.
SPECIAL_KINDS = ("html_502", "timeout", "reset", "legacy_json", "v3_envelope")
V3_PREFIX = "v3:"

# What a charge-records request fails with when the random draw (fault rate) hits.
DEFAULT_RANDOM_FAULTS = (
    "VEHICLE_STATE:ASLEEP",
    "UPSTREAM:NO_RESPONSE",
    "UPSTREAM:UNKNOWN_ISSUE",
    "UPSTREAM:INVALID_DATA",
    "SERVER:INTERNAL",
    "html_502",
    "timeout",
    "RATE_LIMIT:VEHICLE",
    "legacy_json",
    "v3_envelope",
)

# Errors Smartcar answers before it contacts the vehicle: they never arm the per-vehicle
# throttle, so a client that refreshes after a 401 can retry at once.
_GATE_TYPES = frozenset(
    {"AUTHENTICATION", "PERMISSION", "VALIDATION", "RESOURCE_NOT_FOUND", "BILLING"}
)

Stage = Literal["gate", "vehicle"]
Envelope = Literal["v2", "v3"]
TokenFaultKind = Literal["slow", "drop", "reset", "server_error", "invalid_grant"]
TOKEN_FAULT_KINDS: tuple[TokenFaultKind, ...] = (
    "slow",
    "drop",
    "reset",
    "server_error",
    "invalid_grant",
)


@dataclass(frozen=True)
class Fault:
    """One answer to force: an error of the table (`error_type`, `code`) in the v2 body or
    the v3 envelope, or a special kind."""

    kind: str
    error_type: str | None = None
    code: str | None = None
    retry_after_s: float | None = None
    envelope: Envelope = "v2"

    @property
    def stage(self) -> Stage:
        if self.error_type in _GATE_TYPES or (self.code or "").upper() == "SMARTCAR_API":
            return "gate"
        return "vehicle"


def parse_fault(spec: str, retry_after_s: float | None = None) -> Fault:
    """`TYPE`, `TYPE:CODE` (a row of the error table), either prefixed `v3:` for the v3
    envelope, or one of `SPECIAL_KINDS`."""
    if spec == "v3_envelope":
        return Fault(spec, "SERVER", "INTERNAL", retry_after_s, envelope="v3")
    if spec in SPECIAL_KINDS:
        return Fault(spec, retry_after_s=retry_after_s)
    if spec.startswith(V3_PREFIX):
        fault = parse_fault(spec.removeprefix(V3_PREFIX), retry_after_s)
        if fault.error_type is None:
            raise ValueError(f"{spec!r}: only an error of the table has a v3 envelope")
        return Fault(
            V3_PREFIX + fault.kind, fault.error_type, fault.code, retry_after_s, envelope="v3"
        )
    error_type, _, code = spec.partition(":")
    meta = ERROR_TYPES.get(error_type)
    if meta is None:
        known = ", ".join([*ERROR_TYPES, *SPECIAL_KINDS])
        raise ValueError(f"unknown fault kind {spec!r}; known: {known}")
    # A code is matched case-insensitively and sent as spelled (Smartcar's SDK fixtures
    # spell the vehicle throttle "Vehicle").
    if not code:
        chosen = meta.codes[0]
    elif code.upper() in meta.codes or meta.open_codes:
        chosen = code
    else:
        codes = ", ".join(c for c in meta.codes if c)
        raise ValueError(f"unknown code {code!r} for {error_type}; known: {codes}")
    return Fault(
        f"{error_type}:{chosen}" if chosen else error_type, error_type, chosen, retry_after_s
    )


@dataclass(frozen=True)
class TokenFault:
    kind: TokenFaultKind
    delay_s: float = 0.0


class FaultPlan:
    """Targeted faults queued by tests, plus the seeded random draw."""

    def __init__(self, seed: int, rate: float, random_kinds: tuple[str, ...]) -> None:
        self._rng = Random(f"{seed}|faults")
        self._rate = rate
        self._random = tuple(parse_fault(kind) for kind in random_kinds)
        self._queued: dict[str | None, deque[Fault]] = {}
        self._token: deque[TokenFault] = deque()

    def add(self, vehicle_id: str | None, fault: Fault, count: int) -> None:
        self._queued.setdefault(vehicle_id, deque()).extend([fault] * count)

    def add_token(self, fault: TokenFault, count: int) -> None:
        self._token.extend([fault] * count)

    def clear(self) -> None:
        self._queued.clear()
        self._token.clear()

    def pending(self) -> dict[str, list[str]]:
        return {
            key or "*": [fault.kind for fault in queue]
            for key, queue in self._queued.items()
            if queue
        }

    def take(self, vehicle_id: str, stage: Stage) -> Fault | None:
        """The next queued fault for this vehicle (then for any vehicle) due at this stage."""
        for key in (vehicle_id, None):
            queue = self._queued.get(key)
            if queue and queue[0].stage == stage:
                return queue.popleft()
        return None

    def draw(self) -> Fault | None:
        # Always draw twice so the sequence does not depend on which requests hit.
        hit, pick = self._rng.random(), self._rng.randrange(len(self._random) or 1)
        if self._rate > 0 and self._random and hit < self._rate:
            return self._random[pick]
        return None

    def take_token(self) -> TokenFault | None:
        return self._token.popleft() if self._token else None
