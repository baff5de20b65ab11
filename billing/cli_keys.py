"""`billing apikey`: create, list and revoke API keys (secrets are shown once, never listed)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import click

from billing.cli_support import command_settings, open_pool, run_command
from billing.domain.access import ROLES, Role
from billing.services.common import system

CLI = system("cli")  # the audit actor of what these commands change


@click.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--fleet", "fleet_id", type=click.UUID, help="the fleet the key is bound to")
@click.option("--employee", "employee_id", type=click.UUID, help="the employee it acts for")
@click.option("--name", help="a label to recognise the key by")
@click.option("--expires-in", help="lifetime such as 30d, 12h, 90m or 2w (default: never)")
def apikey_create(
    role: Role,
    fleet_id: UUID | None,
    employee_id: UUID | None,
    name: str | None,
    expires_in: str | None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from pydantic import ValidationError

    from billing.domain.apikeys import ApiKeyCreate

    try:
        body = ApiKeyCreate(
            role=role, fleet_id=fleet_id, employee_id=employee_id, name=name, expires_in=expires_in
        )
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise click.UsageError(message) from None
    settings = command_settings()
    from billing.services import api_keys

    async def run() -> str:
        pool = await open_pool(settings, max_size=1)
        try:
            created = await api_keys.create_api_key(pool, CLI, body, now=datetime.now(UTC))
            return created.key
        finally:
            await pool.close()

    click.echo(run_command(run))


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per key")
def apikey_list(as_json: bool) -> None:
    """List every key (prefix, role, binding, expiry, last use; never the secret)."""
    settings = command_settings()
    from billing.domain.apikeys import ApiKey
    from billing.services import api_keys

    async def run() -> list[ApiKey]:
        pool = await open_pool(settings, max_size=1)
        try:
            return await api_keys.list_api_keys(pool, CLI)
        finally:
            await pool.close()

    keys = run_command(run)
    if as_json:
        for key in keys:
            click.echo(key.model_dump_json())
        return
    click.echo(f"{'PREFIX':<20} {'ROLE':<9} {'STATE':<8} {'EXPIRES':<17} {'LAST USED':<17} NAME")
    now = datetime.now(UTC)
    for key in keys:
        state = (
            "revoked"
            if key.revoked_at
            else "expired"
            if key.expires_at and key.expires_at <= now
            else "active"
        )
        click.echo(
            f"{key.prefix:<20} {key.role:<9} {state:<8} {_when(key.expires_at):<17}"
            f" {_when(key.last_used_at):<17} {key.name or ''}"
        )


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if value else "-"


@apikey.command("revoke")
@click.argument("prefix")
def apikey_revoke(prefix: str) -> None:
    """Revoke the key whose public prefix (fb_<role>_<8 chars>) is PREFIX, at once."""
    # a whole key pasted by mistake: its prefix is everything before the last underscore
    prefix = prefix.rpartition("_")[0] if prefix.count("_") > 2 else prefix
    settings = command_settings()
    from billing.services import api_keys

    async def run() -> None:
        pool = await open_pool(settings, max_size=1)
        try:
            await api_keys.revoke_api_key(pool, CLI, prefix)
        finally:
            await pool.close()

    run_command(run)
    click.echo(f"revoked {prefix}")
