"""API keys that expire and remember their last use; audit events that carry a request id.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
ALTER TABLE api_keys
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD CONSTRAINT api_keys_expiry_after_creation
        CHECK (expires_at IS NULL OR expires_at > created_at);

-- The request (API `X-Request-Id`, or a worker's sync pass) that made the change: logs and
-- the audit log can be joined on it.
ALTER TABLE audit_events
    ADD COLUMN request_id text CHECK (request_id IS NULL OR length(request_id) BETWEEN 1 AND 200);

-- A monthly cap is an amount of the fleet's currency: no more digits than its minor unit.
CREATE FUNCTION employees_check_cap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    digits smallint;
    code text;
BEGIN
    IF NEW.monthly_cap IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT c.minor_unit, c.code INTO digits, code
    FROM fleets f JOIN currencies c ON c.code = f.currency WHERE f.id = NEW.fleet_id;
    IF NEW.monthly_cap <> round(NEW.monthly_cap, digits) THEN
        RAISE EXCEPTION 'monthly_cap % has more than % decimals for %',
            NEW.monthly_cap, digits, code
            USING ERRCODE = 'check_violation', CONSTRAINT = 'employees_cap_minor_unit';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER employees_cap_minor_unit BEFORE INSERT OR UPDATE OF monthly_cap ON employees
    FOR EACH ROW EXECUTE FUNCTION employees_check_cap();
"""
    )


def downgrade() -> None:
    execute_script(
        """
DROP TRIGGER employees_cap_minor_unit ON employees;
DROP FUNCTION employees_check_cap();
ALTER TABLE audit_events DROP COLUMN request_id;
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_expiry_after_creation,
    DROP COLUMN last_used_at,
    DROP COLUMN expires_at;
"""
    )
