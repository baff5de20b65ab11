"""RFC 9457 problem details: every error the API returns, and the middleware that renders them."""

from __future__ import annotations

import logging
import math
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from billing.crypto import TokenDecryptError
from billing.db.errors import DRIVER_ERRORS, domain_error
from billing.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DatabaseFailure,
    DomainError,
    Forbidden,
    InvalidData,
    NotFound,
    Retryable,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ApiError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class BadRequest(ApiError):
    pass


class TooManyRequests(ApiError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class RequestValidationFailed(ApiError):
    status = 422
    title = "Validation failed"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        fields = ", ".join(error["field"] for error in errors)
        super().__init__(f"invalid fields: {fields}", errors)

    @classmethod
    def from_pydantic(cls, exc: ValidationError, *, location: str) -> RequestValidationFailed:
        errors = []
        for error in exc.errors(include_url=False):
            path = ".".join(str(part) for part in (location, *error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            errors.append({"field": path, "message": message})
        return cls(errors)


_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (Unauthenticated, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (InvalidData, 422, "Invalid data"),
    (ConcurrentUpdate, 409, "Concurrent update: send the same request again"),
    (Unavailable, 503, "Temporarily unavailable: send the same request again"),
    (Retryable, 503, "Temporarily unavailable: send the same request again"),
    (DatabaseFailure, 500, "Database error"),
]


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, never less than asked for."""
    return str(math.ceil(seconds))


def problem(
    status: int,
    title: str,
    detail: str | None,
    errors: list[dict[str, str]] | None = None,
    *,
    type_: str = "about:blank",
) -> web.Response:
    body = Problem(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        errors=[FieldError(**e) for e in errors] if errors else None,
    )
    response = web.Response(
        status=status,
        text=body.model_dump_json(exclude_none=True),
        content_type=PROBLEM_JSON,
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fleet-billing"'
    return response


def status_of(exc: DomainError) -> tuple[int, str]:
    """The HTTP status and problem title of a domain error."""
    for kind, status, title in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status, title
    return 400, "Bad request"


def _from_domain(exc: DomainError) -> web.Response:
    status, title = status_of(exc)
    # a domain error may name its problem type (`problem_type`, a URI reference)
    response = problem(
        status, title, exc.message, type_=getattr(exc, "problem_type", "about:blank")
    )
    if isinstance(exc, Retryable):
        response.headers["Retry-After"] = retry_after(exc.retry_after_s)
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as exc:
        response = problem(exc.status, exc.title, exc.detail, exc.errors)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = retry_after(exc.retry_after_s)
        return response
    except DomainError as exc:
        return _from_domain(exc)
    except DRIVER_ERRORS as exc:
        # a driver error that did not pass `connection`/`transaction`: the same translation
        return _from_domain(domain_error(exc))
    except web.HTTPRequestEntityTooLarge as exc:
        return problem(413, "Body too large", exc.text)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {
            404: f"no route for {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.reason)
        response = problem(exc.status, exc.reason, detail)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except TokenDecryptError:
        log.error("token decryption failed: is BILLING_SECRET_KEY missing a rotated-out key?")
        return problem(500, "Internal server error", "the server could not read a stored secret")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal server error", "an unexpected error occurred; it was logged")
    return response
