"""DSN helpers shared by the pool and the migration environment."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def sqlalchemy_url(dsn: str) -> str:
    """`postgresql://…` as SQLAlchemy's asyncpg dialect wants it (`postgresql+asyncpg://…`)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


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
