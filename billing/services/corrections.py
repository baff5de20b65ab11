"""Correcting a tariff's past price: the preview and the act share one plan."""

from __future__ import annotations

from uuid import UUID

from billing.db import corrections, master
from billing.db.pool import Pool, transaction
from billing.domain.access import Principal
from billing.domain.correction_results import Correction
from billing.domain.corrections import CorrectionBody
from billing.services import money


async def preview_correction(
    pool: Pool, who: Principal, tariff_id: UUID, body: CorrectionBody
) -> Correction:
    async with transaction(pool) as conn:
        tariff = await master.get_tariff(conn, tariff_id)
        who.check_manages(tariff.fleet_id, tariff.employee_id, what="tariff")
        return await corrections.preview(conn, tariff, body)


async def apply_correction(
    pool: Pool, who: Principal, tariff_id: UUID, body: CorrectionBody
) -> Correction:
    async with transaction(pool) as conn:
        tariff = await master.get_tariff(conn, tariff_id)
        who.check_manages(tariff.fleet_id, tariff.employee_id, what="tariff")
        return await money.apply_correction(conn, who, tariff, body)
