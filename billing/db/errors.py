"""The one place where PostgreSQL errors become domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from billing.domain.errors import Conflict, InvalidData

# Constraint names whose violation is a conflict with existing data rather than bad input.
_CONFLICTS = {
    "tariffs_no_overlap": "the tariff's dates overlap an existing tariff of the same scope",
    "employees_fleet_id_external_ref_key": "an employee with this external_ref already exists",
    "vehicles_smartcar_vehicle_id_key": "this Smartcar vehicle is already registered",
    "line_items_decided_frozen": "the line item is already decided; its money cannot change",
}


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.ExclusionViolationError as exc:
        message = _CONFLICTS.get(exc.constraint_name or "", "conflicts with existing data")
        raise Conflict(message) from None
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(_CONFLICTS.get(exc.constraint_name or "", "already exists")) from None
    except asyncpg.ForeignKeyViolationError as exc:
        raise InvalidData(f"refers to something that does not exist ({exc.detail})") from None
    except (asyncpg.CheckViolationError, asyncpg.NotNullViolationError) as exc:
        name = exc.constraint_name or ""
        if name in _CONFLICTS:
            raise Conflict(_CONFLICTS[name]) from None
        raise InvalidData(f"violates {name or 'a constraint'}: {exc.message}") from None
