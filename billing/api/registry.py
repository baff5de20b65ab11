"""Routes declared once: the declaration validates the request, renders the response and
documents both in the OpenAPI document, so the three can never drift apart."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from billing.api.keys import PRINCIPAL
from billing.api.problems import BadRequest, RequestValidationFailed
from billing.domain.access import Principal

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
Handler = Callable[..., Awaitable[Any]]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Operation:
    method: Method
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    errors: tuple[int, ...] = ()
    raw_response: str | None = None  # media type of a non-JSON response (redirect, HTML …)
    html_errors: tuple[int, ...] = ()  # error statuses answered with a page for a person

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass
class Routes:
    """A group of operations; `create_app` adds every group to the application."""

    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: Method,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        public: bool = False,
        errors: tuple[int, ...] = (),
        raw_response: str | None = None,
        html_errors: tuple[int, ...] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method,
                    path,
                    handler,
                    summary,
                    tag,
                    body,
                    query,
                    response,
                    status,
                    public,
                    errors,
                    raw_response,
                    html_errors,
                )
            )
            return handler

        return register


MAX_JSON_DEPTH = 32
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")


def _too_deep(raw: bytes) -> bool:
    """Whether arrays and objects nest deeper than MAX_JSON_DEPTH (checked before parsing:
    the parser itself runs out of stack near 1,000 levels)."""
    depth = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRINGS.sub(b"", raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _nul_at(data: Any, location: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, which PostgreSQL text
    cannot store."""
    stack: list[tuple[Any, str]] = [(data, location)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return path
                stack.append((item, f"{path}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{index}") for index, item in enumerate(value))
    return None


def _refuse_nul(data: Any, location: str) -> None:
    where = _nul_at(data, location)
    if where is not None:
        raise RequestValidationFailed(
            [{"field": where, "message": "must not contain a NUL character"}]
        )


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def parse_body(request: web.Request, model: type[M]) -> M:
    # body_exists, not can_read_body: a middleware may have read (and cached) the body already
    if not request.body_exists:
        raise BadRequest("the request needs a JSON body")
    if request.content_type != "application/json":
        raise BadRequest(f"expected Content-Type application/json, got {request.content_type}")
    raw = await request.read()
    if _too_deep(raw):
        raise BadRequest(f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    _refuse_nul(data, "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationFailed.from_pydantic(exc, location="body") from None


def parse_query(request: web.Request, model: type[M]) -> M:
    data: dict[str, str] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise RequestValidationFailed(
                [{"field": f"query.{key}", "message": "given more than once"}]
            )
        data[key] = values[0]
    _refuse_nul(data, "query")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationFailed.from_pydantic(exc, location="query") from None


def render(model: BaseModel | None, status: int) -> web.Response:
    if model is None:
        return web.Response(status=status)
    return web.Response(
        status=status,
        body=model.model_dump_json(),
        content_type="application/json",
    )


def bind(operation: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for an operation: parse, call, render."""

    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if operation.body is not None:
            kwargs["body"] = await parse_body(request, operation.body)
        elif request.method in ("POST", "PATCH", "PUT") and await request.read():
            raise BadRequest("this endpoint takes no request body")
        if operation.query is not None:
            kwargs["query"] = parse_query(request, operation.query)
        result = await operation.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        return render(result, operation.status)

    handle.__name__ = operation.operation_id
    return handle


def add_routes(app: web.Application, groups: list[Routes]) -> list[Operation]:
    operations = [op for group in groups for op in group.operations]
    for op in operations:
        app.router.add_route(op.method, op.path, bind(op), name=op.operation_id)
    return operations
