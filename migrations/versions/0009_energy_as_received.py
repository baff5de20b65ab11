"""Energy is stored as received: no rounding to four decimals on the way in.

`numeric(10,4)` rounded every energy before it was priced (0.04995 kWh became 0.0500 and was
paid 0.01 at 0.10/kWh, where the one rounding of the amount gives 0.00) and hid restatements
smaller than 0.00005 kWh. The columns become unconstrained `numeric`, and CHECKs hold the
limits instead, so a value that does not fit is refused rather than silently rounded: under
1,000,000 kWh (as before) and at most 24 decimals (`billing.domain.answer`). The downgrade
rounds back to four decimals.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_RECORD_COLUMNS = ("home_kwh", "other_kwh", "supercharger_kwh", "total_kwh")


def _fits(column: str, *, signed: bool = False) -> str:
    value = f"abs({column})" if signed else column
    return f"{value} < 1000000 AND scale({column}) <= 24"


def upgrade() -> None:
    types = ",\n    ".join(f"ALTER COLUMN {c} TYPE numeric" for c in _RECORD_COLUMNS)
    fits = " AND ".join(_fits(c) for c in _RECORD_COLUMNS)
    execute_script(
        f"""
ALTER TABLE charge_records
    {types},
    ADD CONSTRAINT charge_records_energy_fits CHECK ({fits});
ALTER TABLE line_items
    ALTER COLUMN kwh TYPE numeric,
    ADD CONSTRAINT line_items_kwh_fits CHECK ({_fits("kwh", signed=True)});
"""
    )


def downgrade() -> None:
    types = ",\n    ".join(f"ALTER COLUMN {c} TYPE numeric(10, 4)" for c in _RECORD_COLUMNS)
    execute_script(
        f"""
ALTER TABLE line_items
    DROP CONSTRAINT line_items_kwh_fits,
    ALTER COLUMN kwh TYPE numeric(10, 4);
ALTER TABLE charge_records
    DROP CONSTRAINT charge_records_energy_fits,
    {types};
"""
    )
