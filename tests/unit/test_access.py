from __future__ import annotations

import uuid

import pytest

from billing.domain.access import Principal, Role
from billing.domain.errors import Forbidden, NotFound
from billing.services.common import system

FLEET, OTHER_FLEET = uuid.uuid4(), uuid.uuid4()
ME, COLLEAGUE = uuid.uuid4(), uuid.uuid4()


def principal(role: Role, employee: uuid.UUID | None = None) -> Principal:
    return Principal(
        key_id=uuid.uuid4(),
        prefix="fb_x_12345678",
        role=role,
        fleet_id=None if role == "admin" else FLEET,
        employee_id=employee,
    )


@pytest.mark.parametrize(
    ("role", "fleet", "employee", "visible"),
    [
        ("admin", OTHER_FLEET, COLLEAGUE, True),
        ("manager", FLEET, COLLEAGUE, True),
        ("manager", OTHER_FLEET, None, False),
        ("hr", FLEET, COLLEAGUE, True),
        ("hr", OTHER_FLEET, COLLEAGUE, False),
        ("employee", FLEET, ME, True),
        ("employee", FLEET, None, True),
        ("employee", FLEET, COLLEAGUE, False),
        ("employee", OTHER_FLEET, ME, False),
    ],
)
def test_visibility(
    role: Role, fleet: uuid.UUID, employee: uuid.UUID | None, visible: bool
) -> None:
    who = principal(role, ME if role == "employee" else None)
    assert who.sees(fleet, employee) is visible
    if not visible:
        with pytest.raises(NotFound):
            who.check_sees(fleet, employee)


@pytest.mark.parametrize("role", ["hr", "employee"])
def test_read_only_roles_cannot_manage_their_own_fleet(role: Role) -> None:
    with pytest.raises(Forbidden):
        principal(role, ME).check_manages(FLEET, ME)


def test_foreign_fleet_is_not_found_not_forbidden() -> None:
    with pytest.raises(NotFound):
        principal("hr").check_manages(OTHER_FLEET)


def test_list_scoping() -> None:
    assert principal("admin").scope_fleet(OTHER_FLEET) == OTHER_FLEET
    assert principal("manager").scope_fleet(None) == FLEET
    with pytest.raises(NotFound):
        principal("manager").scope_fleet(OTHER_FLEET)
    assert principal("employee", ME).scope_employee(None) == ME
    with pytest.raises(NotFound):
        principal("employee", ME).scope_employee(COLLEAGUE)


def test_a_manager_key_bound_to_an_employee_cannot_manage_that_employee() -> None:
    bound = Principal(
        key_id=uuid.uuid4(),
        prefix="fb_manager_12345678",
        role="manager",
        fleet_id=FLEET,
        employee_id=ME,
    )
    bound.check_manages(FLEET, COLLEAGUE)
    bound.check_manages(FLEET)
    with pytest.raises(Forbidden, match="own data"):
        bound.check_manages(FLEET, ME)


def test_system_work_is_named_by_its_job_and_a_key_by_its_prefix() -> None:
    assert system("demo").actor == "demo"
    key = Principal(
        key_id=uuid.uuid4(),
        prefix="fb_man_1",
        role="manager",
        fleet_id=uuid.uuid4(),
        employee_id=None,
    )
    assert key.actor == "api_key:fb_man_1"
