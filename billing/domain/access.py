"""Who may see and change what: the four roles and fleet scoping, as plain rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, assert_never
from uuid import UUID

from billing.domain.errors import Forbidden, NotFound

Role = Literal["admin", "manager", "hr", "employee"]
ROLES: tuple[Role, ...] = ("admin", "manager", "hr", "employee")


@dataclass(frozen=True, slots=True)
class Own:
    """The money a key's bound employee may not decide or change: the employee's own records,
    the employee records keys bound to that employee created, and the vehicles they linked
    (a second record for oneself, or one's car linked to a colleague, is still one's own)."""

    employees: frozenset[UUID] = frozenset()
    vehicles: frozenset[UUID] = frozenset()

    def holds(self, employee_id: UUID, vehicle_id: UUID | None = None) -> bool:
        return employee_id in self.employees or (
            vehicle_id is not None and vehicle_id in self.vehicles
        )


NOBODYS = Own()

# The key id of scheduled and command-line work (worker, CLI, demo), which holds no API key.
SYSTEM_KEY = UUID(int=0)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as established by its API key."""

    key_id: UUID
    prefix: str
    role: Role
    fleet_id: UUID | None
    employee_id: UUID | None

    @property
    def actor(self) -> str:
        """Who the audit trail names: the key's prefix, or the job's name for system work."""
        return self.prefix if self.key_id == SYSTEM_KEY else f"api_key:{self.prefix}"

    def sees(self, fleet_id: UUID, employee_id: UUID | None = None) -> bool:
        """Whether an object of `fleet_id` (owned by `employee_id`, if any) is visible."""
        match self.role:
            case "admin":
                return True
            case "manager" | "hr":
                return fleet_id == self.fleet_id
            case "employee":
                return fleet_id == self.fleet_id and employee_id in (None, self.employee_id)
            case _:
                assert_never(self.role)

    def check_sees(
        self, fleet_id: UUID, employee_id: UUID | None = None, *, what: str = "object"
    ) -> None:
        """404, never 403, for objects outside the key's reach: existence is not revealed, so
        the answer is the one for a missing `what` ("no such vehicle"), word for word."""
        if not self.sees(fleet_id, employee_id):
            raise NotFound(f"no such {what}")

    def check_manages(
        self, fleet_id: UUID, employee_id: UUID | None = None, *, what: str = "object"
    ) -> None:
        """Master data, tariffs and approvals: admins anywhere, managers in their fleet, but
        never a manager key bound to an employee for that employee's own money."""
        self.check_sees(fleet_id, employee_id, what=what)
        if self.role not in ("admin", "manager"):
            raise Forbidden(f"the {self.role} role may not change this")
        if employee_id is not None and employee_id == self.employee_id:
            raise Forbidden("a key bound to an employee cannot change that employee's own data")

    def scope_fleet(self, requested: UUID | None) -> UUID | None:
        """The fleet a list is limited to: the key's own, or for admins the requested one."""
        if self.role == "admin":
            return requested
        if requested is not None and requested != self.fleet_id:
            raise NotFound("no such fleet")
        return self.fleet_id

    def scope_employee(self, requested: UUID | None) -> UUID | None:
        if self.role != "employee":
            return requested
        if requested is not None and requested != self.employee_id:
            raise NotFound("no such employee")
        return self.employee_id
