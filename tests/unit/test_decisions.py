"""The decision rules, exhaustively: who may decide, which transitions exist, all or nothing."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.domain.access import Principal, Role
from billing.domain.decisions import Action, DecisionConflict, Requested, plan
from billing.domain.errors import Forbidden, NotFound
from billing.domain.line_items import LineItem, LineItemStatus

FLEET, OTHER_FLEET = uuid.uuid4(), uuid.uuid4()
ME, COLLEAGUE = uuid.uuid4(), uuid.uuid4()


def item(
    *,
    employee: uuid.UUID = COLLEAGUE,
    fleet: uuid.UUID = FLEET,
    status: LineItemStatus = "pending",
    version: int = 3,
    statement: uuid.UUID | None = None,
) -> LineItem:
    decided = status != "pending"
    now = datetime(2025, 3, 1, tzinfo=UTC)
    return LineItem(
        id=uuid.uuid4(),
        fleet_id=fleet,
        employee_id=employee,
        vehicle_id=uuid.uuid4(),
        charge_record_id=uuid.uuid4(),
        charge_date=date(2025, 3, 1),
        period="2025-03",
        kind="charge",
        adjusts_id=None,
        kwh=Decimal("10"),
        unit_price=Decimal("0.3"),
        currency="EUR",
        amount=Decimal("3.00"),
        tariff_id=uuid.uuid4(),
        status=status,
        decided_by="api_key:x" if decided else None,
        decided_at=now if decided else None,
        reason="r" if status == "rejected" else None,
        version=version,
        statement_id=statement,
        created_at=now,
        updated_at=now,
    )


def who(role: Role, *, bound: uuid.UUID | None = None) -> Principal:
    return Principal(
        key_id=uuid.uuid4(),
        prefix="fb_x_12345678",
        role=role,
        fleet_id=None if role == "admin" else FLEET,
        employee_id=ME if role == "employee" else bound,
    )


def outcome(principal: Principal, line: LineItem, request: Requested) -> str:
    try:
        plan(principal, {line.id: line}, [request])
    except NotFound:
        return "404"
    except Forbidden:
        return "403"
    except DecisionConflict:
        return "409"
    return "ok"


ACTIONS: tuple[Action, ...] = ("approve", "reject", "reopen")
STATUSES: tuple[LineItemStatus, ...] = ("pending", "approved", "rejected")


@pytest.mark.parametrize(
    ("action", "status", "on_statement", "fresh"),
    list(itertools.product(ACTIONS, STATUSES, (False, True), (True, False))),
)
def test_transitions(
    action: Action, status: LineItemStatus, on_statement: bool, fresh: bool
) -> None:
    line = item(status=status, statement=uuid.uuid4() if on_statement else None)
    request = Requested(line.id, action, line.version if fresh else line.version - 1, "why")
    if not fresh:
        expected = "409"
    elif action == "reopen":
        expected = "ok" if status != "pending" and not on_statement else "409"
    else:
        expected = "ok" if status == "pending" else "409"
    assert outcome(who("manager"), line, request) == expected


@pytest.mark.parametrize(
    ("principal", "employee", "fleet", "expected"),
    [
        (who("admin"), COLLEAGUE, OTHER_FLEET, "ok"),
        (who("manager"), COLLEAGUE, FLEET, "ok"),
        (who("manager"), ME, FLEET, "ok"),
        (who("manager"), COLLEAGUE, OTHER_FLEET, "404"),
        (who("manager", bound=ME), ME, FLEET, "403"),
        (who("manager", bound=ME), COLLEAGUE, FLEET, "ok"),
        (who("hr"), COLLEAGUE, FLEET, "403"),
        (who("hr"), COLLEAGUE, OTHER_FLEET, "404"),
        (who("employee"), ME, FLEET, "403"),
        (who("employee"), COLLEAGUE, FLEET, "404"),
    ],
)
def test_who_may_decide(
    principal: Principal, employee: uuid.UUID, fleet: uuid.UUID, expected: str
) -> None:
    line = item(employee=employee, fleet=fleet)
    for action in ("approve", "reject"):
        assert outcome(principal, line, Requested(line.id, action, 3, "r")) == expected


def test_one_conflict_names_every_offender_and_plans_nothing() -> None:
    good, stale, done = item(), item(), item(status="approved")
    current = {line.id: line for line in (good, stale, done)}
    requests = [
        Requested(good.id, "approve", 3),
        Requested(stale.id, "approve", 1),
        Requested(done.id, "reject", 3, "no"),
    ]
    with pytest.raises(DecisionConflict) as caught:
        plan(who("manager"), current, requests)
    assert [(c.index, c.id) for c in caught.value.conflicts] == [(1, stale.id), (2, done.id)]
    assert str(good.id) not in caught.value.message


def test_missing_items_are_404_before_anything_else() -> None:
    line = item(status="approved")
    missing = uuid.uuid4()
    requests = [Requested(line.id, "approve", 1), Requested(missing, "approve", 1)]
    with pytest.raises(NotFound, match=str(missing)):
        plan(who("hr"), {line.id: line}, requests)


def test_plan_returns_targets_in_request_order() -> None:
    a, b = item(), item(status="rejected")
    steps = plan(
        who("admin"),
        {a.id: a, b.id: b},
        [Requested(b.id, "reopen", 3, "again"), Requested(a.id, "approve", 3)],
    )
    summary: list[Any] = [(s.before.id, s.action, s.status, s.reason) for s in steps]
    assert summary == [(b.id, "reopen", "pending", "again"), (a.id, "approve", "approved", None)]
