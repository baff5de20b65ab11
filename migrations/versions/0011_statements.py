"""Month-end close: statements, credit notes, payroll exports, gapless numbers, stored files.

Everything money depends on is held by the database: a finalized statement and its lines
never change (triggers), numbers come from a counter row locked in the finalizing
transaction (never a SEQUENCE: those leave gaps on rollback), a credit note never credits
more than a line or its statement is worth, each document is exported exactly once (unique
constraints) and stored bytes never change (their SHA-256 is checked on insert).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Fleet settings for documents and payroll.
ALTER TABLE fleets
    ADD COLUMN locale text NOT NULL DEFAULT 'en-GB'
        CHECK (locale ~ '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2}|-[0-9]{3})?$'),
    ADD COLUMN statement_auto_finalize boolean NOT NULL DEFAULT false,
    ADD COLUMN datev_consultant_number text CHECK (datev_consultant_number ~ '^[0-9]{1,7}$'),
    ADD COLUMN datev_client_number text CHECK (datev_client_number ~ '^[0-9]{1,5}$'),
    ADD COLUMN datev_wage_type text CHECK (datev_wage_type ~ '^[0-9]{1,4}$');

ALTER TABLE audit_events DROP CONSTRAINT audit_events_entity_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_entity_check CHECK (entity IN (
    'fleet', 'employee', 'vehicle', 'tariff', 'charge_record', 'line_item', 'statement',
    'api_key', 'connection', 'credit_note', 'payroll_export'));

-- One gapless series per fleet, calendar year and kind of document ('S' statements,
-- 'C' credit notes). The row is locked by the transaction that takes a number.
CREATE TABLE document_counters (
    fleet_id    uuid NOT NULL REFERENCES fleets (id),
    year        integer NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    series      char(1) NOT NULL CHECK (series IN ('S', 'C')),
    last_number integer NOT NULL CHECK (last_number >= 1),
    PRIMARY KEY (fleet_id, year, series)
);

CREATE TABLE statements (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id        uuid NOT NULL REFERENCES fleets (id),
    employee_id     uuid NOT NULL,
    period          char(7) NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    currency        char(3) NOT NULL REFERENCES currencies (code),
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'finalized', 'void')),
    number          text CHECK (number ~ '^S-[0-9]{4}-[0-9]{5,}$'),
    total           numeric(14, 4) NOT NULL DEFAULT 0,
    kwh             numeric(14, 4) NOT NULL DEFAULT 0,
    line_count      integer NOT NULL DEFAULT 0 CHECK (line_count >= 0),
    -- the lines it holds: for a draft, as of its last refresh; frozen at finalization
    line_ids        uuid[] NOT NULL DEFAULT '{}',
    finalized_at    timestamptz,
    finalized_by    text,
    handed_over_at  timestamptz,
    voided_at       timestamptz,
    voided_by       text,
    void_reason     text CHECK (void_reason IS NULL OR length(void_reason) BETWEEN 1 AND 2000),
    -- the canonical JSON of everything the document shows, and its SHA-256
    snapshot        text,
    snapshot_sha256 char(64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    UNIQUE (fleet_id, number),
    UNIQUE (id, employee_id),
    CHECK (cardinality(line_ids) = line_count),
    CHECK ((status = 'draft') = (number IS NULL)),
    CHECK ((status = 'draft') = (finalized_at IS NULL)),
    CHECK ((status = 'draft') = (finalized_by IS NULL)),
    CHECK ((status = 'draft') = (snapshot IS NULL)),
    CHECK (snapshot IS NULL
           OR snapshot_sha256 = encode(sha256(convert_to(snapshot, 'UTF8')), 'hex')),
    CHECK ((status = 'void') = (voided_at IS NOT NULL)),
    CHECK ((status = 'void') = (void_reason IS NOT NULL)),
    CHECK (handed_over_at IS NULL OR status = 'finalized')
);
-- One live statement per employee, period and currency; a voided one may be reissued.
CREATE UNIQUE INDEX statements_one_live ON statements (employee_id, period, currency)
    WHERE status <> 'void';
CREATE INDEX statements_fleet_list ON statements (fleet_id, created_at, id);
CREATE INDEX statements_fleet_period ON statements (fleet_id, period, status);

-- Finalized: only void (before handover) or the handover itself; void: nothing at all.
CREATE FUNCTION statements_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'statement % is %; it is never deleted', OLD.number, OLD.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'statements_frozen';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status = 'void' THEN
            RAISE EXCEPTION 'a draft is not voided; it is refreshed or finalized'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'statements_transition';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.fleet_id, NEW.employee_id, NEW.period, NEW.currency, NEW.number, NEW.total,
        NEW.kwh, NEW.line_count, NEW.line_ids, NEW.finalized_at, NEW.finalized_by, NEW.snapshot,
        NEW.snapshot_sha256, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.fleet_id, OLD.employee_id, OLD.period, OLD.currency, OLD.number, OLD.total,
        OLD.kwh, OLD.line_count, OLD.line_ids, OLD.finalized_at, OLD.finalized_by, OLD.snapshot,
        OLD.snapshot_sha256, OLD.created_at)
       OR OLD.status = 'void'
       OR (OLD.handed_over_at IS NOT NULL
           AND NEW.handed_over_at IS DISTINCT FROM OLD.handed_over_at)
    THEN
        RAISE EXCEPTION 'statement % is %; its content cannot change', OLD.number, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'statements_frozen';
    END IF;
    IF NEW.status = 'void' AND OLD.handed_over_at IS NOT NULL THEN
        RAISE EXCEPTION 'statement % went to payroll; correct it with a credit note', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'statements_handed_over';
    END IF;
    IF NEW.status = 'draft' THEN
        RAISE EXCEPTION 'statement % cannot return to draft', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'statements_transition';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER statements_guard BEFORE UPDATE OR DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION statements_guard();

ALTER TABLE line_items ADD FOREIGN KEY (statement_id) REFERENCES statements (id);
-- Decided amounts never change (line_items_freeze_decided), so the minor-unit check needs to
-- run only when an amount or currency is written, not when a line is linked to a statement.
DROP TRIGGER line_items_amount_minor_unit ON line_items;
CREATE TRIGGER line_items_amount_minor_unit BEFORE INSERT OR UPDATE OF amount, currency
    ON line_items FOR EACH ROW EXECUTE FUNCTION line_items_check_amount();
CREATE INDEX line_items_statement ON line_items (statement_id) WHERE statement_id IS NOT NULL;
CREATE INDEX line_items_open ON line_items (fleet_id, employee_id, period)
    WHERE statement_id IS NULL AND status IN ('approved', 'pending');

-- A line on a finalized statement never changes, and leaves a statement only when it is void
-- (released for the next draft). Checked per row, but only for lines already on a statement.
CREATE FUNCTION line_items_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- only the columns needed: the statement's snapshot is large and stays untouched
    s_status text;
    s_number text;
BEGIN
    SELECT status, number INTO s_status, s_number FROM statements WHERE id = OLD.statement_id;
    IF s_status = 'finalized' THEN
        RAISE EXCEPTION 'line item % is on finalized statement %', OLD.id, s_number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_on_statement';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.statement_id IS NOT NULL AND NEW.statement_id <> OLD.statement_id THEN
        RAISE EXCEPTION 'line item % moves between statements only by being released', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_on_statement';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER line_items_statement_guard BEFORE UPDATE OR DELETE ON line_items
    FOR EACH ROW WHEN (OLD.statement_id IS NOT NULL)
    EXECUTE FUNCTION line_items_statement_guard();

-- A line is linked only to a finalized statement of its employee and currency that lists it,
-- and only while approved. Checked once per statement over all linked rows (a month-end links
-- hundreds of thousands at once).
CREATE FUNCTION line_items_link_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad uuid;
BEGIN
    -- every line a statement holds after the update (lines already on a finalized statement
    -- cannot change at all, so these are the newly linked ones and the untouched)
    SELECT n.id INTO bad
    FROM linked_new n LEFT JOIN statements s ON s.id = n.statement_id
    WHERE n.statement_id IS NOT NULL
      AND (s.status IS DISTINCT FROM 'finalized' OR s.employee_id <> n.employee_id
           OR s.currency <> n.currency OR n.status <> 'approved' OR NOT n.id = ANY(s.line_ids))
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'line item % does not belong on that statement', bad
            USING ERRCODE = 'check_violation', CONSTRAINT = 'line_items_on_statement';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER line_items_link_check AFTER UPDATE ON line_items
    REFERENCING NEW TABLE AS linked_new
    FOR EACH STATEMENT EXECUTE FUNCTION line_items_link_check();

CREATE TABLE credit_notes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id        uuid NOT NULL REFERENCES fleets (id),
    employee_id     uuid NOT NULL,
    statement_id    uuid NOT NULL,
    number          text NOT NULL CHECK (number ~ '^C-[0-9]{4}-[0-9]{5,}$'),
    currency        char(3) NOT NULL REFERENCES currencies (code),
    total           numeric(14, 4) NOT NULL CHECK (total < 0),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by      text NOT NULL,
    snapshot        text NOT NULL,
    snapshot_sha256 char(64) NOT NULL
                    CHECK (snapshot_sha256 = encode(sha256(convert_to(snapshot, 'UTF8')), 'hex')),
    handed_over_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (statement_id, employee_id) REFERENCES statements (id, employee_id),
    UNIQUE (fleet_id, number)
);
CREATE INDEX credit_notes_fleet_list ON credit_notes (fleet_id, created_at, id);
CREATE INDEX credit_notes_statement ON credit_notes (statement_id);

CREATE TABLE credit_note_lines (
    credit_note_id  uuid NOT NULL REFERENCES credit_notes (id),
    line_item_id    uuid NOT NULL REFERENCES line_items (id),
    amount          numeric(14, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (credit_note_id, line_item_id)
);
CREATE INDEX credit_note_lines_line ON credit_note_lines (line_item_id);

-- A credit note's figures never change; only its handover is recorded, once.
CREATE FUNCTION credit_notes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.handed_over_at IS NOT NULL
       OR (NEW.id, NEW.fleet_id, NEW.employee_id, NEW.statement_id, NEW.number, NEW.currency,
           NEW.total, NEW.reason, NEW.created_by, NEW.snapshot, NEW.snapshot_sha256,
           NEW.created_at)
          IS DISTINCT FROM
          (OLD.id, OLD.fleet_id, OLD.employee_id, OLD.statement_id, OLD.number, OLD.currency,
           OLD.total, OLD.reason, OLD.created_by, OLD.snapshot, OLD.snapshot_sha256,
           OLD.created_at)
    THEN
        RAISE EXCEPTION 'credit note % cannot change', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_frozen';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_notes_guard BEFORE UPDATE OR DELETE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION credit_notes_guard();

-- A credited line is on the note's statement, which went to payroll; credits never exceed
-- the line's amount nor the statement's total. The statement row is locked, so concurrent
-- credit notes against it are checked one after the other.
CREATE FUNCTION credit_note_lines_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    note credit_notes%ROWTYPE;
    s statements%ROWTYPE;
    line line_items%ROWTYPE;
    credited numeric;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'credit note lines cannot change'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_frozen';
    END IF;
    SELECT * INTO note FROM credit_notes WHERE id = NEW.credit_note_id;
    SELECT * INTO s FROM statements WHERE id = note.statement_id FOR UPDATE;
    SELECT * INTO line FROM line_items WHERE id = NEW.line_item_id;
    IF s.status <> 'finalized' OR s.handed_over_at IS NULL
       OR line.statement_id IS DISTINCT FROM s.id THEN
        RAISE EXCEPTION 'line item % is not on handed-over statement %', line.id, s.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_statement';
    END IF;
    SELECT coalesce(sum(amount), 0) INTO credited FROM credit_note_lines
        WHERE line_item_id = NEW.line_item_id;
    IF credited + NEW.amount > line.amount THEN
        RAISE EXCEPTION 'credits on line item % would exceed its amount %', line.id, line.amount
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_line_amount';
    END IF;
    SELECT coalesce(sum(cl.amount), 0) INTO credited
        FROM credit_note_lines cl JOIN credit_notes c ON c.id = cl.credit_note_id
        WHERE c.statement_id = s.id;
    IF credited + NEW.amount > s.total THEN
        RAISE EXCEPTION 'credits on statement % would exceed its total %', s.number, s.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_statement_total';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_note_lines_check BEFORE INSERT OR UPDATE OR DELETE ON credit_note_lines
    FOR EACH ROW EXECUTE FUNCTION credit_note_lines_check();

-- A note's total is minus the sum of its lines, checked when the transaction commits.
CREATE FUNCTION credit_notes_total_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.total <> -(SELECT coalesce(sum(amount), 0) FROM credit_note_lines
                      WHERE credit_note_id = NEW.id) THEN
        RAISE EXCEPTION 'credit note % total does not match its lines', NEW.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_notes_total';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER credit_notes_total_matches AFTER INSERT ON credit_notes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION credit_notes_total_check();

-- Rendered PDFs of finalized documents: rendered once, then served byte-identical.
CREATE TABLE document_pdfs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    statement_id    uuid UNIQUE REFERENCES statements (id),
    credit_note_id  uuid UNIQUE REFERENCES credit_notes (id),
    content         bytea NOT NULL,
    sha256          char(64) NOT NULL CHECK (sha256 = encode(sha256(content), 'hex')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(statement_id, credit_note_id) = 1)
);

CREATE TABLE payroll_exports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id    uuid NOT NULL REFERENCES fleets (id),
    format      text NOT NULL CHECK (format IN ('csv', 'datev-lodas')),
    documents   integer NOT NULL CHECK (documents >= 1),
    total       numeric(14, 4) NOT NULL,
    currency    char(3) REFERENCES currencies (code),
    content     bytea NOT NULL,
    sha256      char(64) NOT NULL CHECK (sha256 = encode(sha256(content), 'hex')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payroll_exports_fleet_list ON payroll_exports (fleet_id, created_at, id);

-- Each document goes to payroll exactly once: a unique constraint, not a convention.
CREATE TABLE payroll_export_documents (
    export_id       uuid NOT NULL REFERENCES payroll_exports (id),
    statement_id    uuid UNIQUE REFERENCES statements (id),
    credit_note_id  uuid UNIQUE REFERENCES credit_notes (id),
    amount          numeric(14, 4) NOT NULL,
    CHECK (num_nonnulls(statement_id, credit_note_id) = 1)
);
CREATE INDEX payroll_export_documents_export ON payroll_export_documents (export_id);

CREATE FUNCTION stored_files_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are written once and never change', TG_TABLE_NAME
        USING ERRCODE = 'check_violation', CONSTRAINT = 'stored_files_immutable';
END $$;
CREATE TRIGGER document_pdfs_immutable BEFORE UPDATE OR DELETE ON document_pdfs
    FOR EACH ROW EXECUTE FUNCTION stored_files_immutable();
CREATE TRIGGER payroll_exports_immutable BEFORE UPDATE OR DELETE ON payroll_exports
    FOR EACH ROW EXECUTE FUNCTION stored_files_immutable();
CREATE TRIGGER payroll_export_documents_immutable BEFORE UPDATE OR DELETE
    ON payroll_export_documents FOR EACH ROW EXECUTE FUNCTION stored_files_immutable();
"""

DOWNGRADE = """
DROP TABLE payroll_export_documents;
DROP TABLE payroll_exports;
DROP TABLE document_pdfs;
DROP FUNCTION stored_files_immutable();
DROP TABLE credit_note_lines;
DROP FUNCTION credit_note_lines_check();
DROP TABLE credit_notes;
DROP FUNCTION credit_notes_guard();
DROP FUNCTION credit_notes_total_check();
DROP TRIGGER line_items_statement_guard ON line_items;
DROP TRIGGER line_items_amount_minor_unit ON line_items;
CREATE TRIGGER line_items_amount_minor_unit BEFORE INSERT OR UPDATE ON line_items
    FOR EACH ROW EXECUTE FUNCTION line_items_check_amount();
DROP FUNCTION line_items_statement_guard();
DROP TRIGGER line_items_link_check ON line_items;
DROP FUNCTION line_items_link_check();
DROP INDEX line_items_open;
DROP INDEX line_items_statement;
ALTER TABLE line_items DROP CONSTRAINT line_items_statement_id_fkey;
DROP TABLE statements;
DROP FUNCTION statements_guard();
DROP TABLE document_counters;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
DELETE FROM audit_events WHERE entity IN ('credit_note', 'payroll_export');
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_entity_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_entity_check CHECK (entity IN (
    'fleet', 'employee', 'vehicle', 'tariff', 'charge_record', 'line_item', 'statement',
    'api_key', 'connection'));
ALTER TABLE fleets
    DROP COLUMN locale,
    DROP COLUMN statement_auto_finalize,
    DROP COLUMN datev_consultant_number,
    DROP COLUMN datev_client_number,
    DROP COLUMN datev_wage_type;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
