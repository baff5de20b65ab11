"""Tariff corrections: a past price corrected as data, never by editing a tariff.

A correction replaces the tariffs in force over its range by new ones (the corrected price
inside the range, the old price on either side). Replaced tariffs keep their price and range,
so the lines priced with them keep their explanation; only tariffs in force take part in the
no-overlap constraint, and a tariff's figures can no longer change once written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tariff_corrections (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id        uuid NOT NULL REFERENCES fleets (id),
    employee_id     uuid,
    -- the tariff the correction was asked for; its range holds the corrected range
    tariff_id       uuid NOT NULL REFERENCES tariffs (id),
    price_per_kwh   numeric(12, 6) NOT NULL CHECK (price_per_kwh >= 0 AND price_per_kwh < 1000),
    valid_from      date NOT NULL,
    valid_to        date CHECK (valid_to IS NULL OR valid_to > valid_from),
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 300),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id)
);
CREATE INDEX tariff_corrections_tariff ON tariff_corrections (tariff_id);

ALTER TABLE tariffs
    ADD COLUMN correction_id uuid REFERENCES tariff_corrections (id),
    ADD COLUMN replaced_by uuid REFERENCES tariff_corrections (id);

-- Replaced tariffs overlap the tariffs that replaced them; only those in force must not.
ALTER TABLE tariffs DROP CONSTRAINT tariffs_no_overlap;
ALTER TABLE tariffs ADD CONSTRAINT tariffs_no_overlap EXCLUDE USING gist (
    fleet_id WITH =,
    (coalesce(employee_id, '00000000-0000-0000-0000-000000000000'::uuid)) WITH =,
    daterange(valid_from, valid_to, '[)') WITH &&
) WHERE (replaced_by IS NULL);

-- Lines were priced with a tariff's figures: they never change. A tariff is replaced at most
-- once, and that is the only update it takes.
CREATE FUNCTION tariffs_freeze() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.replaced_by IS NOT NULL OR (
        NEW.id, NEW.fleet_id, NEW.employee_id, NEW.price_per_kwh, NEW.currency, NEW.valid_from,
        NEW.valid_to, NEW.source, NEW.created_at, NEW.correction_id
    ) IS DISTINCT FROM (
        OLD.id, OLD.fleet_id, OLD.employee_id, OLD.price_per_kwh, OLD.currency, OLD.valid_from,
        OLD.valid_to, OLD.source, OLD.created_at, OLD.correction_id
    ) THEN
        RAISE EXCEPTION 'tariff % cannot change; a correction replaces it', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tariffs_frozen';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tariffs_freeze BEFORE UPDATE ON tariffs
    FOR EACH ROW EXECUTE FUNCTION tariffs_freeze();
"""

# Fails while corrections exist: the old constraint cannot hold replaced tariffs.
DOWNGRADE = """
DROP TRIGGER tariffs_freeze ON tariffs;
DROP FUNCTION tariffs_freeze();
ALTER TABLE tariffs DROP CONSTRAINT tariffs_no_overlap;
ALTER TABLE tariffs ADD CONSTRAINT tariffs_no_overlap EXCLUDE USING gist (
    fleet_id WITH =,
    (coalesce(employee_id, '00000000-0000-0000-0000-000000000000'::uuid)) WITH =,
    daterange(valid_from, valid_to, '[)') WITH &&
);
ALTER TABLE tariffs DROP COLUMN replaced_by, DROP COLUMN correction_id;
DROP TABLE tariff_corrections;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
