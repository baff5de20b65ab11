"""API keys: an admin lists them (never the secrets), creates and revokes them."""

from __future__ import annotations

from datetime import datetime

from billing.db import apikeys, audit
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.apikeys import ApiKey, ApiKeyCreate, ApiKeyCreated, parse_duration
from billing.domain.errors import Forbidden


def _check_admin(who: Principal) -> None:
    if who.role != "admin":
        raise Forbidden("only an admin key may manage API keys")


async def list_api_keys(pool: Pool, who: Principal) -> list[ApiKey]:
    _check_admin(who)
    async with connection(pool) as conn:
        return await apikeys.list_keys(conn)


async def create_api_key(
    pool: Pool, who: Principal, body: ApiKeyCreate, *, now: datetime
) -> ApiKeyCreated:
    """The answer is the only time the whole key is shown."""
    _check_admin(who)
    expires_at = now + parse_duration(body.expires_in) if body.expires_in else None
    async with transaction(pool) as conn:
        issued = await apikeys.issue_key(
            conn,
            role=body.role,
            fleet_id=body.fleet_id,
            employee_id=body.employee_id,
            name=body.name,
            expires_at=expires_at,
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=issued.key.fleet_id,
            entity="api_key",
            entity_id=issued.id,
            action="create",
            after=ApiKey.model_validate(issued.key.model_dump(exclude={"key"})),
        )
    return issued.key


async def revoke_api_key(pool: Pool, who: Principal, prefix: str) -> ApiKey:
    """At once; revoking a revoked key changes nothing and records nothing."""
    _check_admin(who)
    async with transaction(pool) as conn:
        revoked = await apikeys.revoke(conn, prefix)
        if revoked.changed:
            await audit.record(
                conn,
                actor=who.actor,
                fleet_id=revoked.key.fleet_id,
                entity="api_key",
                entity_id=revoked.id,
                action="revoke",
                after=revoked.key,
            )
    return revoked.key
