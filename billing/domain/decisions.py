"""Approving, rejecting and reopening line items: who may, and which transitions exist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, assert_never
from uuid import UUID

from billing.domain.access import NOBODYS, Own, Principal
from billing.domain.errors import Conflict, Forbidden, NotFound
from billing.domain.line_items import LineItem, LineItemStatus

Action = Literal["approve", "reject", "reopen"]


@dataclass(frozen=True, slots=True)
class Requested:
    """One decision as asked for: the item, what to do, the version the caller saw, why."""

    id: UUID
    action: Action
    version: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A decision that passed every rule, ready to be written."""

    before: LineItem
    action: Action
    status: LineItemStatus
    reason: str | None


@dataclass(frozen=True, slots=True)
class ItemConflict:
    index: int
    id: UUID
    problem: str


class DecisionConflict(Conflict):
    """Some decisions conflict with the items' current state; none was applied."""

    def __init__(self, conflicts: Sequence[ItemConflict]) -> None:
        ids = ", ".join(str(c.id) for c in conflicts)
        super().__init__(f"nothing was applied; conflicting line items: {ids}")
        self.conflicts = tuple(conflicts)


def check_may_decide(who: Principal, item: LineItem, own: Own = NOBODYS) -> None:
    """Admins anywhere, managers in their fleet, except for the employee a key is bound to
    and what that employee's keys created (`own`)."""
    who.check_sees(item.fleet_id, item.employee_id, what=f"line item: {item.id}")
    if who.employee_id is not None and who.employee_id == item.employee_id:
        raise Forbidden("a key bound to an employee cannot decide that employee's own items")
    if own.holds(item.employee_id, item.vehicle_id):
        raise Forbidden(
            f"line item {item.id} belongs to a record or vehicle created by keys of the employee "
            "this key is bound to; another manager decides it"
        )
    who.check_manages(item.fleet_id, item.employee_id, what=f"line item: {item.id}")


def target_status(action: Action) -> LineItemStatus:
    match action:
        case "approve":
            return "approved"
        case "reject":
            return "rejected"
        case "reopen":
            return "pending"
        case _:
            assert_never(action)


def _transition_problem(item: LineItem, action: Action, adjusted: bool) -> str | None:
    match action:
        case "approve" | "reject":
            if item.status != "pending":
                return f"already {item.status}; reopen it first"
            return None
        case "reopen":
            if item.status == "pending":
                return "is pending; there is no decision to reopen"
            if item.statement_id is not None:
                return "is on a statement; correct it with an adjustment instead"
            if adjusted:
                # Its adjustments were computed against this decision; reopening the charge
                # line under them would leave a pending line with adjustments hanging off it.
                return "has adjustment lines; decide those instead"
            return None
        case _:
            assert_never(action)


def plan(
    who: Principal,
    current: Mapping[UUID, LineItem],
    requests: Sequence[Requested],
    adjusted: frozenset[UUID] = frozenset(),
    own: Own = NOBODYS,
) -> list[Transition]:
    """The transitions for `requests` against the locked `current` items, all or nothing.

    `adjusted` holds the items that adjustment lines point at. Missing or invisible items raise
    NotFound, a role or binding that may not decide raises
    Forbidden, and stale versions or impossible transitions raise one DecisionConflict naming
    every offending item.
    """
    for request in requests:
        item = current.get(request.id)
        if item is None or not who.sees(item.fleet_id, item.employee_id):
            raise NotFound(f"no such line item: {request.id}")
    for request in requests:
        check_may_decide(who, current[request.id], own)
    conflicts: list[ItemConflict] = []
    transitions: list[Transition] = []
    for index, request in enumerate(requests):
        item = current[request.id]
        if item.version != request.version:
            problem: str | None = (
                f"stale version {request.version}; the item is at version {item.version}"
            )
        else:
            problem = _transition_problem(item, request.action, item.id in adjusted)
        if problem is not None:
            conflicts.append(ItemConflict(index, item.id, problem))
            continue
        transitions.append(
            Transition(item, request.action, target_status(request.action), request.reason)
        )
    if conflicts:
        raise DecisionConflict(conflicts)
    return transitions
