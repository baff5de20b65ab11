from __future__ import annotations

import pytest

from billing.config import ConfigError, load_settings
from billing.crypto import new_key


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BILLING_DATABASE_URL", "BILLING_PORT", "BILLING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url is None
    assert settings.port == 8080
    assert settings.smartcar_rate_burst == 120
    assert settings.smartcar_rate_per_minute == 2
    assert settings.sync_lookback_days == 7
    assert settings.statement_grace_days == 3
    assert str(settings.smartcar_api_url) == "https://api.smartcar.com/"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BILLING_PORT", "eighty", "BILLING_PORT"),
        ("BILLING_PORT", "70000", "BILLING_PORT"),
        ("BILLING_DATABASE_URL", "mysql://x", "BILLING_DATABASE_URL: must be a postgresql:// DSN"),
        ("BILLING_SECRET_KEY", "not-a-key", "BILLING_SECRET_KEY: key #1 is not a Fernet key"),
        ("BILLING_SMARTCAR_RATE_BURST", "0", "BILLING_SMARTCAR_RATE_BURST"),
        ("BILLING_LOG_FORMAT", "xml", "BILLING_LOG_FORMAT"),
        ("BILLING_SMARTCAR_API_URL", "not a url", "BILLING_SMARTCAR_API_URL"),
        ("BILLING_STATEMENT_GRACE_DAYS", "-1", "BILLING_STATEMENT_GRACE_DAYS"),
    ],
)
def test_invalid_values_fail_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_secret_key_list_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_SECRET_KEY", f"{new_key()}, {new_key()}")
    assert load_settings().secret_key is not None
    monkeypatch.setenv("BILLING_SECRET_KEY", f"{new_key()},garbage")
    with pytest.raises(ConfigError, match="key #2"):
        load_settings()
