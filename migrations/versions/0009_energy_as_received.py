"""Energy is stored as received: no rounding to four decimals on the way in.

`numeric(10,4)` rounded every energy before it was priced (0.04995 kWh became 0.0500 and was
paid 0.01 at 0.10/kWh, where the one rounding of the amount gives 0.00) and hid restatements
smaller than 0.00005 kWh. The columns become unconstrained `numeric`, and CHECKs hold the
limits instead, so a value that does not fit is refused rather than silently rounded: under
1,000,000 kWh (as before) and at most 24 decimals (`billing.domain.answer`). A trigger pads
a value with fewer than four decimals to four (exact: it only adds zeros), so every figure
reads as it did (10.5 as 10.5000). The downgrade rounds back to four decimals.

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


def _pad(column: str) -> str:
    return f"NEW.{column} := round(NEW.{column}, greatest(scale(NEW.{column}), 4));"


def upgrade() -> None:
    types = ",\n    ".join(f"ALTER COLUMN {c} TYPE numeric" for c in _RECORD_COLUMNS)
    fits = " AND ".join(_fits(c) for c in _RECORD_COLUMNS)
    pads = "\n    ".join(_pad(c) for c in _RECORD_COLUMNS)
    execute_script(
        f"""
ALTER TABLE charge_records
    {types},
    ADD CONSTRAINT charge_records_energy_fits CHECK ({fits});
ALTER TABLE line_items
    ALTER COLUMN kwh TYPE numeric,
    ADD CONSTRAINT line_items_kwh_fits CHECK ({_fits("kwh", signed=True)});

CREATE FUNCTION charge_records_energy_scale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {pads}
    RETURN NEW;
END $$;
CREATE TRIGGER charge_records_energy_scale BEFORE INSERT OR UPDATE ON charge_records
    FOR EACH ROW EXECUTE FUNCTION charge_records_energy_scale();

CREATE FUNCTION line_items_kwh_scale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pad("kwh")}
    RETURN NEW;
END $$;
CREATE TRIGGER line_items_kwh_scale BEFORE INSERT OR UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_kwh_scale();
"""
    )


def downgrade() -> None:
    types = ",\n    ".join(f"ALTER COLUMN {c} TYPE numeric(10, 4)" for c in _RECORD_COLUMNS)
    execute_script(
        f"""
DROP TRIGGER line_items_kwh_scale ON line_items;
DROP FUNCTION line_items_kwh_scale();
DROP TRIGGER charge_records_energy_scale ON charge_records;
DROP FUNCTION charge_records_energy_scale();
ALTER TABLE line_items
    DROP CONSTRAINT line_items_kwh_fits,
    ALTER COLUMN kwh TYPE numeric(10, 4);
ALTER TABLE charge_records
    DROP CONSTRAINT charge_records_energy_fits,
    {types};
"""
    )
