"""The one place where PostgreSQL errors become domain errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from billing.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DatabaseFailure,
    DomainError,
    InvalidData,
    Unavailable,
)

log = logging.getLogger(__name__)

DriverError = asyncpg.PostgresError | asyncpg.InterfaceError
# What the driver raises: for the few places that meet it outside `connection`/`transaction`.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)

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

# A value the request carried that the column cannot hold (too long, too large, malformed):
# bad input, not a fault of ours.
_UNSTORABLE = (
    asyncpg.StringDataRightTruncationError,
    asyncpg.NumericValueOutOfRangeError,
    asyncpg.DatetimeFieldOverflowError,
    asyncpg.IntervalFieldOverflowError,
    asyncpg.InvalidDatetimeFormatError,
    asyncpg.InvalidTextRepresentationError,
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.UntranslatableCharacterError,
)

# The database is busy, short of resources, shutting down or out of reach; a cancelled
# statement (statement_timeout, lock_timeout, an operator) is one of these too.
_UNAVAILABLE = (
    asyncpg.OperatorInterventionError,  # 57: query cancelled, admin shutdown, cannot connect now
    asyncpg.InsufficientResourcesError,  # 53: too many connections, disk full, out of memory
    asyncpg.LockNotAvailableError,  # 55P03: lock_timeout, NOWAIT
    asyncpg.PostgresConnectionError,  # 08: the connection is gone
)


def _constraint_error(exc: asyncpg.IntegrityConstraintViolationError) -> DomainError:
    name = exc.constraint_name or ""
    if isinstance(exc, asyncpg.ExclusionViolationError):
        return Conflict(_CONFLICTS.get(name, "conflicts with existing data"))
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(_CONFLICTS.get(name, "already exists"))
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        log.info("foreign key refused: %s (%s)", name, exc.detail)
        return InvalidData("refers to something that does not exist")
    if name in _CONFLICTS:
        return Conflict(_CONFLICTS[name])
    if name in _INVALID:
        return InvalidData(_INVALID[name])
    log.info("check refused: %s (%s)", name, exc.message)
    return InvalidData("breaks a rule the stored data must keep")


def _translated(exc: DriverError) -> DomainError | None:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return _constraint_error(exc)
    if isinstance(exc, asyncpg.DeadlockDetectedError | asyncpg.SerializationError):
        log.warning("transaction lost a race and was rolled back: %s", exc.sqlstate)
        return ConcurrentUpdate()
    if isinstance(exc, _UNAVAILABLE):
        log.warning("database busy or out of reach: %s (%s)", exc.sqlstate, exc.message)
        return Unavailable()
    return None


@contextmanager
def translate_errors() -> Iterator[None]:
    """Constraint violations, lost races and a busy database leave it as domain errors, in
    words of our own: the database's texts (constraint names, keys, values) name tables and
    other fleets' data, so they are logged, never answered.

    Any other driver error leaves it as it is: a caller may own it (the sync records it
    against the one vehicle whose answer caused it), and the edges (the API, the pages, the
    command line) answer it through `domain_error`."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from None


def domain_error(exc: DriverError) -> DomainError:
    """What an edge answers for a driver error: the translation above, else bad input for a
    value the column cannot hold, else a `DatabaseFailure`, logged with its SQLSTATE."""
    translated = _translated(exc)
    if translated is not None:
        return translated
    if isinstance(exc, _UNSTORABLE):
        log.info("value refused: %s (%s)", exc.sqlstate, exc.message)
        return InvalidData("a value is too long, too large or malformed to be stored")
    sqlstate = exc.sqlstate if isinstance(exc, asyncpg.PostgresError) else None
    log.error("database error %s: %s", sqlstate or type(exc).__name__, exc, exc_info=exc)
    return DatabaseFailure()
