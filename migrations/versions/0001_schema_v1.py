"""Schema v1: master data, Smartcar connections, charge records, line items, audit, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


UPGRADE = r"""
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- ISO 4217 active currencies with their minor units; filled by 0002.
CREATE TABLE currencies (
    code        char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    minor_unit  smallint NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
);

CREATE TABLE fleets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    currency    char(3) NOT NULL REFERENCES currencies (code),
    timezone    text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employees (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id            uuid NOT NULL REFERENCES fleets (id),
    external_ref        text NOT NULL CHECK (length(btrim(external_ref)) BETWEEN 1 AND 200),
    name                text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email               text CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+$'),
    timezone            text CHECK (timezone IS NULL OR length(timezone) BETWEEN 1 AND 64),
    monthly_cap         numeric(14, 4) CHECK (monthly_cap IS NULL OR monthly_cap >= 0),
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, external_ref),
    UNIQUE (id, fleet_id)
);

CREATE TABLE smartcar_connections (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_id             uuid NOT NULL REFERENCES employees (id),
    smartcar_user_id        text,
    access_token_enc        bytea NOT NULL,
    refresh_token_enc       bytea NOT NULL,
    -- the refresh token this pair replaced, kept for retrying a refresh whose answer was lost
    previous_refresh_enc    bytea,
    access_expires_at       timestamptz NOT NULL,
    refresh_issued_at       timestamptz NOT NULL,
    generation              bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    state                   text NOT NULL DEFAULT 'active'
                            CHECK (state IN ('active', 'needs_reauth')),
    last_error              jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX smartcar_connections_user ON smartcar_connections (smartcar_user_id)
    WHERE smartcar_user_id IS NOT NULL;

CREATE TABLE vehicles (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id                uuid NOT NULL,
    employee_id             uuid NOT NULL,
    connection_id           uuid REFERENCES smartcar_connections (id),
    smartcar_vehicle_id     text NOT NULL UNIQUE
                            CHECK (length(smartcar_vehicle_id) BETWEEN 1 AND 200),
    make                    text NOT NULL CHECK (make ~ '^[A-Z][A-Z0-9_]{0,39}$'),
    -- sync state: where this vehicle stands with its upstream
    sync_state              text NOT NULL DEFAULT 'new' CHECK (sync_state IN
                            ('new', 'ok', 'retry_later', 'throttled', 'needs_reauth',
                             'owner_action', 'not_capable', 'failed')),
    access_granted_on       date,
    synced_through          date,
    last_attempt_at         timestamptz,
    last_success_at         timestamptz,
    next_sync_at            timestamptz,
    not_before              timestamptz,
    consecutive_failures    integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    last_error              jsonb,
    lease_owner             text,
    lease_until             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
);
CREATE INDEX vehicles_fleet ON vehicles (fleet_id);
CREATE INDEX vehicles_employee ON vehicles (employee_id);
CREATE INDEX vehicles_due ON vehicles (next_sync_at)
    WHERE sync_state NOT IN ('needs_reauth', 'not_capable', 'owner_action');

CREATE TABLE tariffs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id        uuid NOT NULL REFERENCES fleets (id),
    employee_id     uuid,
    price_per_kwh   numeric(12, 6) NOT NULL CHECK (price_per_kwh >= 0 AND price_per_kwh < 1000),
    currency        char(3) NOT NULL REFERENCES currencies (code),
    valid_from      date NOT NULL,
    valid_to        date CHECK (valid_to IS NULL OR valid_to > valid_from),
    source          text CHECK (source IS NULL OR length(source) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    -- one scope (fleet default, or one employee) never has two tariffs on the same day
    CONSTRAINT tariffs_no_overlap EXCLUDE USING gist (
        fleet_id WITH =,
        (coalesce(employee_id, '00000000-0000-0000-0000-000000000000'::uuid)) WITH =,
        daterange(valid_from, valid_to, '[)') WITH &&
    )
);

CREATE TABLE charge_records (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vehicle_id          uuid NOT NULL REFERENCES vehicles (id),
    employee_id         uuid NOT NULL REFERENCES employees (id),
    charge_date         date NOT NULL,
    home_kwh            numeric(10, 4) NOT NULL CHECK (home_kwh >= 0),
    other_kwh           numeric(10, 4) NOT NULL CHECK (other_kwh >= 0),
    supercharger_kwh    numeric(10, 4) NOT NULL CHECK (supercharger_kwh >= 0),
    total_kwh           numeric(10, 4) NOT NULL CHECK (total_kwh >= 0),
    raw                 jsonb NOT NULL,
    source              text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    request_id          text,
    fetched_at          timestamptz NOT NULL,
    revision            integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    flags               text[] NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vehicle_id, charge_date)
);
CREATE INDEX charge_records_employee_date ON charge_records (employee_id, charge_date);

CREATE TABLE line_items (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id            uuid NOT NULL REFERENCES fleets (id),
    employee_id         uuid NOT NULL,
    vehicle_id          uuid NOT NULL REFERENCES vehicles (id),
    charge_record_id    uuid NOT NULL REFERENCES charge_records (id),
    charge_date         date NOT NULL,
    period              char(7) NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    kind                text NOT NULL CHECK (kind IN ('charge', 'adjustment')),
    adjusts_id          uuid REFERENCES line_items (id),
    kwh                 numeric(10, 4) NOT NULL,
    unit_price          numeric(12, 6) NOT NULL CHECK (unit_price >= 0),
    currency            char(3) NOT NULL REFERENCES currencies (code),
    amount              numeric(14, 4) NOT NULL,
    tariff_id           uuid NOT NULL REFERENCES tariffs (id),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by          text,
    decided_at          timestamptz,
    reason              text CHECK (reason IS NULL OR length(reason) <= 2000),
    version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    statement_id        uuid,
    evidence            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    CHECK ((kind = 'charge') = (adjusts_id IS NULL)),
    CHECK (kind = 'adjustment' OR (kwh >= 0 AND amount >= 0)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'pending') = (decided_by IS NULL)),
    CHECK (status <> 'rejected' OR reason IS NOT NULL)
);
-- one charge line per record; adjustments hang off it
CREATE UNIQUE INDEX line_items_one_charge_per_record ON line_items (charge_record_id)
    WHERE kind = 'charge';
CREATE INDEX line_items_fleet_list ON line_items (fleet_id, created_at, id);
CREATE INDEX line_items_employee_period ON line_items (employee_id, period);
CREATE INDEX line_items_adjusts ON line_items (adjusts_id) WHERE adjusts_id IS NOT NULL;

-- Amounts carry exactly the currency's minor units.
CREATE FUNCTION line_items_check_amount() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    digits smallint;
BEGIN
    SELECT minor_unit INTO digits FROM currencies WHERE code = NEW.currency;
    IF NEW.amount <> round(NEW.amount, digits) THEN
        RAISE EXCEPTION 'amount % has more than % decimals for %', NEW.amount, digits, NEW.currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_amount_minor_unit';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER line_items_amount_minor_unit BEFORE INSERT OR UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_check_amount();

-- A decided line's money never changes: corrections are new adjustment lines.
CREATE FUNCTION line_items_freeze_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'pending' AND (
        NEW.kwh, NEW.unit_price, NEW.amount, NEW.currency, NEW.tariff_id,
        NEW.charge_record_id, NEW.charge_date, NEW.period, NEW.kind, NEW.adjusts_id,
        NEW.employee_id, NEW.fleet_id, NEW.vehicle_id
    ) IS DISTINCT FROM (
        OLD.kwh, OLD.unit_price, OLD.amount, OLD.currency, OLD.tariff_id,
        OLD.charge_record_id, OLD.charge_date, OLD.period, OLD.kind, OLD.adjusts_id,
        OLD.employee_id, OLD.fleet_id, OLD.vehicle_id
    ) THEN
        RAISE EXCEPTION 'line item % is %; its money cannot change', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_decided_frozen';
    END IF;
    IF NEW.version <= OLD.version THEN
        RAISE EXCEPTION 'line item % changed without a new version', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_version_bump';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER line_items_freeze_decided BEFORE UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_freeze_decided();

CREATE FUNCTION line_items_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'line items are never deleted'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_no_delete';
END $$;
CREATE TRIGGER line_items_no_delete BEFORE DELETE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_no_delete();

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    prefix          text NOT NULL UNIQUE CHECK (prefix ~ '^fb_[a-z]+_[A-Za-z0-9]{8}$'),
    secret_hash     bytea NOT NULL CHECK (length(secret_hash) = 32),
    role            text NOT NULL CHECK (role IN ('admin', 'manager', 'hr', 'employee')),
    fleet_id        uuid REFERENCES fleets (id),
    employee_id     uuid,
    name            text CHECK (name IS NULL OR length(name) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    CHECK (role = 'admin' OR fleet_id IS NOT NULL),
    CHECK (role <> 'admin' OR (fleet_id IS NULL AND employee_id IS NULL)),
    CHECK (role <> 'employee' OR employee_id IS NOT NULL)
);

-- Every write, with who, what, before and after. `xid` orders the change feed: a row is
-- only handed out once every transaction that could still commit an earlier one has ended.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 300),
    fleet_id    uuid REFERENCES fleets (id),
    entity      text NOT NULL CHECK (entity IN ('fleet', 'employee', 'vehicle', 'tariff',
                'charge_record', 'line_item', 'statement', 'api_key', 'connection')),
    entity_id   uuid NOT NULL,
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_events_entity ON audit_events (entity, entity_id, id);
CREATE INDEX audit_events_feed ON audit_events (xid, id);
CREATE INDEX audit_events_fleet ON audit_events (fleet_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'audit_events_append_only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
"""

DOWNGRADE = """
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE api_keys;
DROP TABLE line_items;
DROP FUNCTION line_items_check_amount();
DROP FUNCTION line_items_freeze_decided();
DROP FUNCTION line_items_no_delete();
DROP TABLE charge_records;
DROP TABLE tariffs;
DROP TABLE vehicles;
DROP TABLE smartcar_connections;
DROP TABLE employees;
DROP TABLE fleets;
DROP TABLE currencies;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
