"""What the services share: the caller acting without an API key (worker, CLI, demo)."""

from __future__ import annotations

from billing.domain.access import SYSTEM_KEY, Principal


def system(name: str) -> Principal:
    """An admin caller for scheduled and command-line work; its audit actor is `name`."""
    return Principal(key_id=SYSTEM_KEY, prefix=name, role="admin", fleet_id=None, employee_id=None)
