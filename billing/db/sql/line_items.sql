-- name: list_line_items
-- The columns a LineItem shows (not the evidence, which only the detail view decodes).
SELECT id, fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kind,
       adjusts_id, kwh, unit_price, currency, amount, tariff_id, status, decided_by, decided_at,
       reason, version, statement_id, created_at, updated_at
FROM line_items
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::uuid IS NULL OR employee_id = $2)
  AND ($3::uuid IS NULL OR vehicle_id = $3)
  AND ($4::text IS NULL OR status = $4)
  AND ($5::text IS NULL OR kind = $5)
  AND ($6::text IS NULL OR period = $6)
  AND ($7::timestamptz IS NULL OR (created_at, id) > ($7, $8::uuid))
  AND ($10::date IS NULL OR charge_date >= $10)
  AND ($11::date IS NULL OR charge_date <= $11)
ORDER BY created_at, id
LIMIT $9;

-- name: get_line_item
SELECT * FROM line_items WHERE id = $1;

-- name: lock_line_items
-- In id order, so two bulk decisions over overlapping items cannot deadlock.
SELECT * FROM line_items WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: adjusted_among
SELECT DISTINCT adjusts_id FROM line_items WHERE adjusts_id = ANY($1::uuid[]);

-- name: decide_line_item
UPDATE line_items SET
    status = $2,
    decided_by = CASE WHEN $2 = 'pending' THEN NULL ELSE $3 END,
    decided_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
    reason = $4,
    version = version + 1,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: adjustment_chain
-- The original charge line (found by walking up adjusts_id) and every line adjusting it.
WITH RECURSIVE up AS (
    SELECT id, adjusts_id FROM line_items WHERE id = $1
    UNION
    SELECT l.id, l.adjusts_id FROM line_items l JOIN up ON l.id = up.adjusts_id
), chain AS (
    SELECT id FROM up WHERE adjusts_id IS NULL
    UNION
    SELECT l.id FROM line_items l JOIN chain ON l.adjusts_id = chain.id
)
SELECT l.* FROM line_items l JOIN chain USING (id)
ORDER BY l.created_at, l.id;

-- name: get_charge_record
SELECT * FROM charge_records WHERE id = $1;

-- name: list_charge_records
SELECT c.* FROM charge_records c JOIN vehicles v ON v.id = c.vehicle_id
WHERE ($1::uuid IS NULL OR v.fleet_id = $1)
  AND ($2::uuid IS NULL OR c.employee_id = $2)
  AND ($3::uuid IS NULL OR c.vehicle_id = $3)
  AND ($4::date IS NULL OR c.charge_date >= $4)
  AND ($5::date IS NULL OR c.charge_date <= $5)
  AND (NOT $6::boolean OR (c.home_kwh > 0 AND NOT EXISTS (
        SELECT 1 FROM line_items l WHERE l.charge_record_id = c.id AND l.kind = 'charge')))
  AND ($7::timestamptz IS NULL OR (c.created_at, c.id) > ($7, $8::uuid))
ORDER BY c.created_at, c.id
LIMIT $9;
