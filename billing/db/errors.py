"""The one place where PostgreSQL errors become domain errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from billing.domain.errors import ConcurrentUpdate, Conflict, InvalidData, Unavailable

log = logging.getLogger(__name__)

# Constraint names whose violation is a conflict with existing data rather than bad input.
_CONFLICTS = {
    "tariffs_no_overlap": "the tariff's dates overlap an existing tariff of the same scope",
    "employees_fleet_id_external_ref_key": "an employee with this external_ref already exists",
    "vehicles_smartcar_vehicle_id_key": "this Smartcar vehicle is already registered",
    "line_items_decided_frozen": "the line item is already decided; its money cannot change",
}

# Checks whose violation is bad input we can name in our own words.
_INVALID = {
    "employees_cap_minor_unit": "monthly_cap has more decimals than the fleet's currency has",
}


@contextmanager
def translate_errors() -> Iterator[None]:
    """Constraint violations become domain errors in words of our own: the database's texts
    (constraint names, keys, values) name tables and other fleets' data, so they are logged,
    never answered."""
    try:
        yield
    except asyncpg.ExclusionViolationError as exc:
        message = _CONFLICTS.get(exc.constraint_name or "", "conflicts with existing data")
        raise Conflict(message) from None
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(_CONFLICTS.get(exc.constraint_name or "", "already exists")) from None
    except asyncpg.ForeignKeyViolationError as exc:
        log.info("foreign key refused: %s (%s)", exc.constraint_name, exc.detail)
        raise InvalidData("refers to something that does not exist") from None
    except (asyncpg.CheckViolationError, asyncpg.NotNullViolationError) as exc:
        name = exc.constraint_name or ""
        if name in _CONFLICTS:
            raise Conflict(_CONFLICTS[name]) from None
        if name in _INVALID:
            raise InvalidData(_INVALID[name]) from None
        log.info("check refused: %s (%s)", name, exc.message)
        raise InvalidData("breaks a rule the stored data must keep") from None
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
        log.warning("transaction lost a race and was rolled back: %s", exc.sqlstate)
        raise ConcurrentUpdate() from None
    except (asyncpg.QueryCanceledError, asyncpg.TooManyConnectionsError) as exc:
        log.warning("database refused or cancelled a query: %s (%s)", exc.sqlstate, exc.message)
        raise Unavailable() from None
    except (asyncpg.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError) as exc:
        log.warning("database connection lost: %s", exc)
        raise Unavailable() from None
