"""Fleets: an admin creates them; their settings for documents and payroll (locale,
auto-finalize, DATEV numbers) are their managers' to change."""

from __future__ import annotations

from uuid import UUID

from billing.db import audit, closing, master
from billing.db.pages import After
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import Forbidden
from billing.domain.models import Fleet, FleetCreate
from billing.domain.statement_models import FleetSettingsBody


async def create_fleet(pool: Pool, who: Principal, body: FleetCreate) -> Fleet:
    if who.role != "admin":
        raise Forbidden("only an admin key may create fleets")
    async with transaction(pool) as conn:
        fleet = await master.insert_fleet(conn, body)
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=fleet.id,
            entity="fleet",
            entity_id=fleet.id,
            action="create",
            after=fleet,
        )
    return fleet


async def list_fleets(pool: Pool, who: Principal, *, after: After, limit: int) -> list[Fleet]:
    async with connection(pool) as conn:
        return await master.list_fleets(conn, only=who.scope_fleet(None), after=after, limit=limit)


async def get_fleet(pool: Pool, who: Principal, fleet_id: UUID) -> Fleet:
    async with connection(pool) as conn:
        fleet = await master.get_fleet(conn, fleet_id)
    who.check_sees(fleet.id, what="fleet")
    return fleet


async def update_settings(
    pool: Pool, who: Principal, fleet_id: UUID, body: FleetSettingsBody
) -> Fleet:
    """Fields left out stay as they are; a DATEV field sent as null is cleared."""
    async with transaction(pool) as conn:
        before = await master.get_fleet(conn, fleet_id)
        who.check_manages(before.id)
        given = body.model_fields_set
        datev = before.datev.model_dump()
        if body.datev is not None:
            datev.update(body.datev.model_dump(include=body.datev.model_fields_set))
        after = await closing.update_fleet_settings(
            conn,
            before,
            locale=body.locale if "locale" in given and body.locale else before.locale,
            auto_finalize=(
                body.statement_auto_finalize
                if body.statement_auto_finalize is not None
                else before.statement_auto_finalize
            ),
            consultant_number=datev["consultant_number"],
            client_number=datev["client_number"],
            wage_type=datev["wage_type"],
        )
        await audit.record(
            conn,
            actor=who.actor,
            fleet_id=after.id,
            entity="fleet",
            entity_id=after.id,
            action="update",
            before=before,
            after=after,
        )
        return after
