"""DSN helpers: the one translation of a libpq URL into asyncpg's connect arguments.

asyncpg reads most libpq URL parameters itself (`sslmode`, `sslrootcert`, `sslcert`,
`sslkey`, `target_session_attrs`, `passfile`, `service`…) and sends every parameter it does
not know to the server as a setting. A few libpq parameters are client-side only and would
be refused by the server that way; `connect_arguments` takes them out and maps the ones with
an asyncpg equivalent. The pool, the migrations and the embedded server all connect through
it, so a URL that works for one command works for every command.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# libpq parameters that only steer the client and have no asyncpg counterpart: dropped
# (asyncpg keeps TCP keep-alive on and negotiates encryption through `sslmode` alone).
_CLIENT_ONLY = frozenset(
    {
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "gssencmode",
        "channel_binding",
        "sslcompression",
        "sslsni",
        "requirepeer",
        "require_auth",
        "load_balance_hosts",
        "hostaddr",
        "client_encoding",
    }
)


def connect_arguments(dsn: str) -> tuple[str, dict[str, Any]]:
    """The DSN asyncpg should parse and the keyword arguments to pass beside it."""
    parts = urlsplit(dsn)
    kwargs: dict[str, Any] = {}
    kept: list[tuple[str, str]] = []
    fallback_name: str | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "connect_timeout":
            if value.strip() and float(value) > 0:
                kwargs["timeout"] = float(value)
        elif key == "fallback_application_name":
            fallback_name = value
        elif key == "options":
            settings = _options(value)
            kwargs.setdefault("server_settings", {}).update(settings)
        elif key not in _CLIENT_ONLY:
            kept.append((key, value))
    if fallback_name and not any(key == "application_name" for key, _ in kept):
        kept.append(("application_name", fallback_name))
    return urlunsplit(parts._replace(query=urlencode(kept))), kwargs


def _options(value: str) -> dict[str, str]:
    """libpq's `options=-c name=value -c …` as server settings."""
    settings: dict[str, str] = {}
    words = value.replace("-c ", "-c").split()
    for word in words:
        if word.startswith("-c") and "=" in word:
            name, _, setting = word[2:].partition("=")
            settings[name.strip()] = setting
        elif word.startswith("--") and "=" in word:
            name, _, setting = word[2:].partition("=")
            settings[name.replace("-", "_")] = setting
        else:
            raise ValueError(f"unsupported options entry {word!r} (use -c name=value)")
    return settings


def sqlalchemy_url(dsn: str) -> str:
    """`postgresql+asyncpg://…` for SQLAlchemy's dialect (offline SQL generation only: online
    connections are opened by `billing.db.server.connect`, never from this URL)."""
    parts = urlsplit(connect_arguments(dsn)[0])
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=""))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or (urlsplit(dsn).username or "postgres")


def with_database(dsn: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def redact(dsn: str) -> str:
    """The DSN without its password, for logs and error messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
