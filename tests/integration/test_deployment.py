"""Deployment paths an operator takes: libpq URL parameters, bare `alembic`, the compose file."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from billing.config import Settings, load_settings
from billing.db.dsn import connect_arguments, with_database
from billing.db.migrations import head_revision
from tests.conftest import SECRET_KEY, _admin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def scratch_dsn(server_dsn: str) -> AsyncIterator[str]:
    """An empty database of this test's own (not cloned from the migrated template)."""
    name = f"billing_dep_{uuid.uuid4().hex[:10]}"
    await _admin(server_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_params(dsn: str, params: str) -> str:
    """The DSN with more URL parameters (the embedded server's DSN has some already)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}{params}"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    return {**env, "BILLING_LOG_FORMAT": "json", **values}


async def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


async def _revision(dsn: str) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        return await conn.fetchval("SELECT version_num FROM alembic_version") if exists else None
    finally:
        await conn.close()


@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
async def test_migrate_accepts_libpq_url_parameters(scratch_dsn: str, sslmode: str) -> None:
    url = _with_params(
        scratch_dsn, f"sslmode={sslmode}&connect_timeout=10&application_name=billing-migrate"
    )
    done = await _run(
        sys.executable, "-m", "billing", "migrate", env=_env(BILLING_DATABASE_URL=url)
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert await _revision(scratch_dsn) == head_revision()


async def test_bare_alembic_upgrade_and_downgrade_from_the_repository_root(
    scratch_dsn: str,
) -> None:
    env = _env(BILLING_DATABASE_URL=_with_params(scratch_dsn, "sslmode=disable"))
    alembic = str(Path(sys.executable).with_name("alembic"))
    done = await _run(alembic, "upgrade", "head", env=env)
    assert done.returncode == 0, done.stderr
    assert await _revision(scratch_dsn) == head_revision()
    done = await _run(alembic, "downgrade", "base", env=env)
    assert done.returncode == 0, done.stderr
    assert await _revision(scratch_dsn) is None


def test_connect_arguments_translate_libpq_parameters() -> None:
    dsn, kwargs = connect_arguments(
        "postgresql://u:p@db:5432/billing?sslmode=require&connect_timeout=7"
        "&keepalives=1&options=-c%20statement_timeout%3D5000&fallback_application_name=fb"
    )
    assert dsn == "postgresql://u:p@db:5432/billing?sslmode=require&application_name=fb"
    assert kwargs == {"timeout": 7.0, "server_settings": {"statement_timeout": "5000"}}
    assert connect_arguments("postgresql://db/x") == ("postgresql://db/x", {})


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME:-default}` / `${NAME:?message}` / `${NAME}` for one value."""
    import re

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3) or ""
        if name in env and env[name] != "":
            return env[name]
        if op == ":?":
            raise ValueError(f"{name}: {rest}")
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def _service_settings(service: dict[str, Any], env: dict[str, str]) -> Settings:
    variables = {k: _interpolate(str(v), env) for k, v in service["environment"].items()}
    unknown = [
        k
        for k in variables
        if k.startswith("BILLING_") and k[8:].lower() not in Settings.model_fields
    ]
    assert not unknown
    overrides = {k[8:].lower(): v for k, v in variables.items() if v != ""}
    return load_settings(**overrides)


def test_compose_services_validate_against_settings_without_smartcar_credentials() -> None:
    compose = _compose()
    services = compose["services"]
    env = {"BILLING_SECRET_KEY": "Q1ZhbHVlX29mX3RoaXJ0eV90d29fYnl0ZXNfX19fXzA="}
    billing = {"migrate", "api", "worker"}
    assert billing <= set(services)
    for name in billing | {"smartcar-sim"}:
        settings = _service_settings(services[name], env)
        assert settings.database_url is not None or name == "smartcar-sim"
    # the demo profile brings the simulator; the default profile needs no credentials either
    assert services["smartcar-sim"]["profiles"] == ["demo"]
    assert services["smartcar-sim"]["command"][0] == "smartcar-sim"


def test_compose_health_checks_fit_each_service() -> None:
    services = _compose()["services"]
    api = " ".join(services["api"]["healthcheck"]["test"])
    assert "/healthz" in api
    assert "BILLING_PORT" in api or "8080" in api
    worker = services["worker"]
    assert "BILLING_WORKER_PORT" in worker["environment"]
    assert "/healthz" in " ".join(worker["healthcheck"]["test"])
    assert "BILLING_WORKER_PORT" in " ".join(worker["healthcheck"]["test"])
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # the image itself probes nothing: each service says what fits it
    assert "HEALTHCHECK NONE" in (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)


def _compose_command() -> list[str] | None:
    """Docker Compose as found here: `docker-compose` (v1, needs no Docker engine to read the
    file) or the `docker compose` plugin."""
    if (legacy := shutil.which("docker-compose")) is not None:
        return [legacy]
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return [docker, "compose"] if probe.returncode == 0 else None


def _compose_config(compose: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose, "--env-file", "compose.demo.env", "--profile", "demo", "config"],
        cwd=ROOT,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_config_validates_with_docker_compose() -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    done = _compose_config(compose, {"BILLING_SECRET_KEY": SECRET_KEY})
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker", "smartcar-sim"}
    # every service of ours starts from the resolved environment Compose would hand it
    for name in ("migrate", "api", "worker", "smartcar-sim"):
        settings = _service_settings(services[name], {})
        assert settings.database_url is not None or name == "smartcar-sim"
    # the demo profile brings the simulator, and compose.demo.env points the product at it
    assert services["smartcar-sim"]["command"][0] == "smartcar-sim"
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["BILLING_SMARTCAR_API_URL"] == "http://smartcar-sim:8765"
        assert environment["BILLING_SMARTCAR_CLIENT_ID"] == "sim-client"


def test_compose_config_refuses_a_missing_secret_key() -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    done = _compose_config(compose, {})
    assert done.returncode != 0
    assert "set BILLING_SECRET_KEY (billing secret-key)" in done.stderr
