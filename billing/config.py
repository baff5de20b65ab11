"""Settings: every knob of the service, read once from `BILLING_*` environment variables."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_log_format() -> Literal["json", "console"]:
    return "console" if sys.stderr.isatty() else "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", frozen=True)

    database_url: SecretStr | None = None
    data_dir: Path = Path("~/.local/share/fleet-billing")
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    worker_port: int | None = Field(default=None, ge=0, le=65535)
    log_format: Literal["json", "console"] = Field(default_factory=_default_log_format)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    auth_failures_per_minute: int = Field(default=60, ge=1)

    smartcar_client_id: str | None = None
    smartcar_client_secret: SecretStr | None = None
    smartcar_redirect_uri: AnyHttpUrl | None = None
    smartcar_api_url: AnyHttpUrl = AnyHttpUrl("https://api.smartcar.com")
    smartcar_auth_url: AnyHttpUrl = AnyHttpUrl("https://auth.smartcar.com")
    smartcar_connect_url: AnyHttpUrl = AnyHttpUrl("https://connect.smartcar.com")
    smartcar_rate_burst: int = Field(default=120, ge=1)
    smartcar_rate_per_minute: float = Field(default=2, gt=0)
    smartcar_concurrency: int = Field(default=16, ge=1, le=1024)
    smartcar_timeout_s: float = Field(default=60, gt=0, le=900)

    sync_tick_s: float = Field(default=60, gt=0)
    sync_lookback_days: int = Field(default=7, ge=0, le=29)
    statement_grace_days: int = Field(default=3, ge=0, le=28)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("database_url")
    @classmethod
    def _postgres_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// DSN")
        return value

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        from billing.crypto import parse_keys

        parse_keys(value.get_secret_value())  # raises ValueError with the reason
        return value


class ConfigError(Exception):
    """Invalid configuration."""


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; on a bad value raise ConfigError with one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"BILLING_{field.upper()}: {message}") from None


# BILLING_* variables read by something other than Settings (the test suite's server).
_OTHER_VARIABLES = frozenset({"BILLING_TEST_DATABASE_URL"})


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per `BILLING_*` variable no setting reads, naming the closest known one."""
    env = os.environ if environ is None else environ
    known = sorted(f"BILLING_{name.upper()}" for name in Settings.model_fields)
    warnings = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith("BILLING_") or upper in known or upper in _OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"warning: {name} is not a known setting and is ignored{hint}")
    return warnings
