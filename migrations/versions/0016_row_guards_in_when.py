"""The per-row guards of line items and statements run only on rows that break them.

Linking a month's lines to their statements updates hundreds of thousands of rows, and each
row called two PL/pgSQL functions that change nothing for it: the guard freezing a decided
line's money, and the padding of kWh to 4 decimals. The guards now carry their condition in
the trigger's WHEN clause, evaluated without calling the function (in a BEFORE trigger
exactly as at the function's start), and the padding runs only when kWh is written. The
functions are unchanged, so every guarantee holds as before; the statement guard likewise
runs on an update only for a statement that is no longer a draft, or a draft being voided.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = """
DROP TRIGGER line_items_freeze_decided ON line_items;
CREATE TRIGGER line_items_freeze_decided BEFORE UPDATE ON line_items
    FOR EACH ROW
    WHEN ((OLD.status <> 'pending' AND (
              NEW.kwh, NEW.unit_price, NEW.amount, NEW.currency, NEW.tariff_id,
              NEW.charge_record_id, NEW.charge_date, NEW.period, NEW.kind, NEW.adjusts_id,
              NEW.employee_id, NEW.fleet_id, NEW.vehicle_id
          ) IS DISTINCT FROM (
              OLD.kwh, OLD.unit_price, OLD.amount, OLD.currency, OLD.tariff_id,
              OLD.charge_record_id, OLD.charge_date, OLD.period, OLD.kind, OLD.adjusts_id,
              OLD.employee_id, OLD.fleet_id, OLD.vehicle_id
          ))
          OR NEW.version <= OLD.version)
    EXECUTE FUNCTION line_items_freeze_decided();

DROP TRIGGER line_items_kwh_scale ON line_items;
CREATE TRIGGER line_items_kwh_scale BEFORE INSERT OR UPDATE OF kwh ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_kwh_scale();

DROP TRIGGER statements_guard ON statements;
CREATE TRIGGER statements_guard BEFORE DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION statements_guard();
CREATE TRIGGER statements_guard_update BEFORE UPDATE ON statements
    FOR EACH ROW WHEN (OLD.status <> 'draft' OR NEW.status = 'void')
    EXECUTE FUNCTION statements_guard();
"""

DOWNGRADE = """
DROP TRIGGER statements_guard_update ON statements;
DROP TRIGGER statements_guard ON statements;
CREATE TRIGGER statements_guard BEFORE UPDATE OR DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION statements_guard();

DROP TRIGGER line_items_kwh_scale ON line_items;
CREATE TRIGGER line_items_kwh_scale BEFORE INSERT OR UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_kwh_scale();

DROP TRIGGER line_items_freeze_decided ON line_items;
CREATE TRIGGER line_items_freeze_decided BEFORE UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_freeze_decided();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
