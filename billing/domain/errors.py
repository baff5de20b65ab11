"""Domain errors. The docstring is the default message, so most errors are two lines."""

from __future__ import annotations

# Problem types (RFC 9457 `type`) of errors whose kind a client acts on.
PROBLEM_BASE = "https://fleet-billing.dev/problems/"


class DomainError(Exception):
    """Something went wrong."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class NotFound(DomainError):
    """No such object."""


class Conflict(DomainError):
    """The request conflicts with the current state."""


class StaleVersion(Conflict):
    """The object was changed by someone else; reload it and try again."""


class InvalidData(DomainError):
    """The data breaks a rule."""


class Forbidden(DomainError):
    """This key may not do that."""


class Unauthenticated(DomainError):
    """A valid API key is required: send `Authorization: Bearer <key>`."""


class Retryable(DomainError):
    """The request could not finish now; the same request may succeed shortly."""

    retry_after_s: float = 1.0


class ConcurrentUpdate(Retryable):
    """Another request changed the same data at the same moment; send the request again."""

    problem_type = PROBLEM_BASE + "concurrent-update"


class Unavailable(Retryable):
    """The database is busy or out of reach; send the request again shortly."""

    problem_type = PROBLEM_BASE + "unavailable"
    retry_after_s = 5.0


class DatabaseFailure(DomainError):
    """The database could not complete the request; the error was logged."""

    problem_type = PROBLEM_BASE + "database-failure"
