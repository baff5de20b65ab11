-- name: lock_close
-- Drafting and finalizing one fleet's month serialise on this lock (the transaction's own).
SELECT pg_advisory_xact_lock(hashtextextended('statements:' || $1::uuid::text || ':' || $2::text, 0));

-- name: take_number
-- The counter row stays locked until the transaction ends: a rollback returns the number.
INSERT INTO document_counters AS c (fleet_id, year, series, last_number)
VALUES ($1, $2, $3, 1)
ON CONFLICT (fleet_id, year, series) DO UPDATE SET last_number = c.last_number + 1
RETURNING last_number;

-- name: open_lines
-- Approved and pending lines on no live statement, of `period` and earlier, locked in id
-- order (as decisions lock them) so the lines a transaction finalizes cannot change under it.
SELECT l.id, l.fleet_id, l.employee_id, l.vehicle_id, l.charge_record_id, l.charge_date,
       l.period, l.kind, l.adjusts_id, l.kwh, l.unit_price, l.currency, l.amount, l.tariff_id,
       l.status, l.decided_by, l.decided_at, l.reason, l.version, l.statement_id,
       l.created_at, l.updated_at, t.source AS tariff_source
FROM line_items l JOIN tariffs t ON t.id = l.tariff_id
WHERE l.fleet_id = $1
  AND ($2::uuid IS NULL OR l.employee_id = $2)
  AND l.statement_id IS NULL
  AND l.status IN ('approved', 'pending')
  AND l.period <= $3
ORDER BY l.id
FOR UPDATE OF l;

-- name: open_lines_unlocked
SELECT l.id, l.fleet_id, l.employee_id, l.vehicle_id, l.charge_record_id, l.charge_date,
       l.period, l.kind, l.adjusts_id, l.kwh, l.unit_price, l.currency, l.amount, l.tariff_id,
       l.status, l.decided_by, l.decided_at, l.reason, l.version, l.statement_id,
       l.created_at, l.updated_at, t.source AS tariff_source
FROM line_items l JOIN tariffs t ON t.id = l.tariff_id
WHERE l.fleet_id = $1
  AND ($2::uuid IS NULL OR l.employee_id = $2)
  AND l.statement_id IS NULL
  AND l.status IN ('approved', 'pending')
  AND l.period <= $3
ORDER BY l.id;

-- name: statements_of_period
SELECT * FROM statements
WHERE fleet_id = $1 AND period = $2 AND ($3::uuid IS NULL OR employee_id = $3)
  AND status <> 'void';

-- name: insert_draft
INSERT INTO statements (fleet_id, employee_id, period, currency, total, kwh, line_count, line_ids)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: update_draft
UPDATE statements SET total = $2, kwh = $3, line_count = $4, line_ids = $5, updated_at = now()
WHERE id = $1 AND status = 'draft'
RETURNING *;

-- name: delete_draft
DELETE FROM statements WHERE id = $1 AND status = 'draft';

-- name: get_statement
SELECT s.*, (SELECT coalesce(sum(cl.amount), 0) FROM credit_notes c
             JOIN credit_note_lines cl ON cl.credit_note_id = c.id
             WHERE c.statement_id = s.id) AS credited
FROM statements s WHERE s.id = $1;

-- name: lock_statement
SELECT s.*, (SELECT coalesce(sum(cl.amount), 0) FROM credit_notes c
             JOIN credit_note_lines cl ON cl.credit_note_id = c.id
             WHERE c.statement_id = s.id) AS credited
FROM statements s WHERE s.id = $1 FOR UPDATE OF s;

-- name: drafts_of_period_locked
SELECT * FROM statements WHERE fleet_id = $1 AND period = $2 AND status = 'draft'
ORDER BY id FOR UPDATE;

-- name: list_statements
SELECT s.*, (SELECT coalesce(sum(cl.amount), 0) FROM credit_notes c
             JOIN credit_note_lines cl ON cl.credit_note_id = c.id
             WHERE c.statement_id = s.id) AS credited
FROM statements s
WHERE ($1::uuid IS NULL OR s.fleet_id = $1)
  AND ($2::uuid IS NULL OR s.employee_id = $2)
  AND ($3::text IS NULL OR s.period = $3)
  AND ($4::text IS NULL OR s.status = $4)
  AND (NOT $5::boolean OR s.status = 'finalized')
  AND ($6::timestamptz IS NULL OR (s.created_at, s.id) > ($6, $7::uuid))
ORDER BY s.created_at, s.id
LIMIT $8;

-- name: finalize_statement
UPDATE statements SET
    status = 'finalized', number = $2, total = $3, kwh = $4, line_count = $5, line_ids = $6,
    finalized_at = $7, finalized_by = $8, snapshot = $9, snapshot_sha256 = $10,
    updated_at = now()
WHERE id = $1 AND status = 'draft'
RETURNING *, 0::numeric AS credited;

-- name: void_statement
UPDATE statements SET status = 'void', voided_at = now(), voided_by = $2, void_reason = $3,
    updated_at = now()
WHERE id = $1 AND status = 'finalized' AND handed_over_at IS NULL
RETURNING *, 0::numeric AS credited;

-- name: release_lines
UPDATE line_items SET statement_id = NULL, version = version + 1, updated_at = now()
WHERE statement_id = $1;

-- name: lines_by_id
SELECT l.id, l.fleet_id, l.employee_id, l.vehicle_id, l.charge_record_id, l.charge_date,
       l.period, l.kind, l.adjusts_id, l.kwh, l.unit_price, l.currency, l.amount, l.tariff_id,
       l.status, l.decided_by, l.decided_at, l.reason, l.version, l.statement_id,
       l.created_at, l.updated_at, t.source AS tariff_source
FROM line_items l JOIN tariffs t ON t.id = l.tariff_id
WHERE l.id = ANY($1::uuid[])
ORDER BY l.charge_date, l.created_at, l.id;

-- name: get_snapshot
SELECT snapshot FROM statements WHERE id = $1;

-- name: employees_by_id
SELECT * FROM employees WHERE id = ANY($1::uuid[]);

-- name: fleets_due_for_close
-- Fleets with approved lines on no statement: the worker's month-end job looks at these.
SELECT f.* FROM fleets f
WHERE EXISTS (SELECT 1 FROM line_items l WHERE l.fleet_id = f.id
              AND l.statement_id IS NULL AND l.status = 'approved')
ORDER BY f.id;

-- name: take_numbers
-- `$4` numbers at once; returns the last of them.
INSERT INTO document_counters AS c (fleet_id, year, series, last_number)
VALUES ($1, $2, $3, $4)
ON CONFLICT (fleet_id, year, series) DO UPDATE SET last_number = c.last_number + $4
RETURNING last_number;

-- name: finalize_many
-- Every draft at once: numbers, totals, snapshots; `line_ids` from the (line, statement) pairs.
WITH pairs AS (
    SELECT p.lid, p.sid, p.ord FROM unnest($10::uuid[], $11::uuid[]) WITH ORDINALITY AS p(lid, sid, ord)
), grouped AS (
    SELECT sid, array_agg(lid ORDER BY ord) AS ids FROM pairs GROUP BY sid
)
UPDATE statements s SET
    status = 'finalized', number = u.number, total = u.total, kwh = u.kwh,
    line_count = cardinality(g.ids), line_ids = g.ids,
    finalized_at = $8, finalized_by = $9, snapshot = u.snapshot, snapshot_sha256 = u.sha256,
    updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::numeric[], $5::text[], $6::text[],
            $7::integer[]) AS u(id, number, total, kwh, snapshot, sha256, line_count)
JOIN grouped g ON g.sid = u.id
WHERE s.id = u.id AND s.status = 'draft' AND cardinality(g.ids) = u.line_count
RETURNING s.*, 0::numeric AS credited;

-- name: link_many
UPDATE line_items l SET statement_id = p.sid, version = l.version + 1, updated_at = now()
FROM unnest($1::uuid[], $2::uuid[]) AS p(lid, sid)
WHERE l.id = p.lid AND l.statement_id IS NULL AND l.status = 'approved';

-- name: audit_many
INSERT INTO audit_events (actor, fleet_id, entity, entity_id, action, after)
SELECT $1, $2, $3, e.id, $4, e.after::jsonb
FROM unnest($5::uuid[], $6::text[]) AS e(id, after);

-- name: try_month_end_session_lock
-- Held by one worker for the whole month-end job; the others skip it.
SELECT pg_try_advisory_lock(hashtextextended('statements:month-end', 0));

-- name: month_end_session_unlock
SELECT pg_advisory_unlock(hashtextextended('statements:month-end', 0));

-- name: finalized_without_pdf
SELECT s.id FROM statements s
WHERE s.fleet_id = $1 AND s.period = $2 AND s.status = 'finalized'
  AND NOT EXISTS (SELECT 1 FROM document_pdfs p WHERE p.statement_id = s.id)
ORDER BY s.number;

-- name: pending_of_period
SELECT * FROM line_items
WHERE fleet_id = $1 AND period = $2 AND status = 'pending'
ORDER BY charge_date, id;

-- name: closing_lines
-- open_lines_unlocked as finalization reads it: the columns of `ClosingLine`, in its order,
-- amounts with the currency's minor units.
SELECT l.id, l.employee_id, l.charge_date, l.period, l.kind, l.kwh, l.unit_price, l.currency,
       round(l.amount, c.minor_unit), l.status, l.statement_id, l.created_at,
       t.source AS tariff_source
FROM line_items l JOIN tariffs t ON t.id = l.tariff_id JOIN currencies c ON c.code = l.currency
WHERE l.fleet_id = $1
  AND ($2::uuid IS NULL OR l.employee_id = $2)
  AND l.statement_id IS NULL
  AND l.status IN ('approved', 'pending')
  AND l.period <= $3;
