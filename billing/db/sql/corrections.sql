-- name: lock_fleet
-- Corrections in one fleet run one at a time, so each plans from what the one before it
-- committed. NO KEY UPDATE: rows referencing the fleet can still be inserted meanwhile.
SELECT 1 FROM fleets WHERE id = $1 FOR NO KEY UPDATE;

-- name: scope_tariffs
-- The tariffs in force in one scope ($2 NULL: the fleet default) that overlap [$3, $4).
SELECT * FROM tariffs
WHERE fleet_id = $1 AND employee_id IS NOT DISTINCT FROM $2::uuid AND replaced_by IS NULL
  AND daterange(valid_from, valid_to, '[)') && daterange($3, $4, '[)')
ORDER BY valid_from;

-- name: lock_scope_tariffs
SELECT * FROM tariffs
WHERE fleet_id = $1 AND employee_id IS NOT DISTINCT FROM $2::uuid AND replaced_by IS NULL
  AND daterange(valid_from, valid_to, '[)') && daterange($3, $4, '[)')
ORDER BY valid_from
FOR UPDATE;

-- name: affected_records
-- The scope's days inside the ranges [$3[i], $4[i]) whose price a correction changes. A fleet
-- default prices an employee's day only when no tariff of the employee's own covers it.
SELECT r.id FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE e.fleet_id = $1
  AND ($2::uuid IS NULL OR r.employee_id = $2)
  AND EXISTS (
      SELECT 1 FROM unnest($3::date[], $4::date[]) AS c (first_day, end_day)
      WHERE r.charge_date >= c.first_day AND (c.end_day IS NULL OR r.charge_date < c.end_day))
  AND ($2::uuid IS NOT NULL OR NOT EXISTS (
      SELECT 1 FROM tariffs own
      WHERE own.employee_id = r.employee_id AND own.replaced_by IS NULL
        AND daterange(own.valid_from, own.valid_to, '[)') @> r.charge_date));

-- name: capped_period_records
-- A monthly cap couples every day of a period: these records' periods are re-planned whole
-- for employees with a cap.
SELECT r.id FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE e.monthly_cap IS NOT NULL
  AND (r.employee_id, to_char(r.charge_date, 'YYYY-MM')) IN (
      SELECT a.employee_id, to_char(a.charge_date, 'YYYY-MM')
      FROM charge_records a WHERE a.id = ANY($1::uuid[]));

-- name: records
SELECT r.id, r.vehicle_id, r.employee_id, e.fleet_id, r.charge_date, r.home_kwh, r.revision,
       r.request_id, r.fetched_at, r.source
FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE r.id = ANY($1::uuid[])
ORDER BY r.vehicle_id, r.charge_date;

-- name: lock_records
-- In the order ingestion upserts a vehicle's days, so a concurrent sync cannot deadlock with it.
SELECT r.id, r.vehicle_id, r.employee_id, e.fleet_id, r.charge_date, r.home_kwh, r.revision,
       r.request_id, r.fetched_at, r.source
FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE r.id = ANY($1::uuid[])
ORDER BY r.vehicle_id, r.charge_date
FOR UPDATE OF r;

-- name: lines
SELECT * FROM line_items WHERE charge_record_id = ANY($1::uuid[]) ORDER BY id;

-- name: lock_corrected_lines
-- In id order, as decisions lock them: a concurrent approval waits, then sees a new version.
SELECT * FROM line_items WHERE charge_record_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: employee_caps
SELECT id, monthly_cap FROM employees WHERE id = ANY($1::uuid[]);

-- name: tariffs_of_employees
-- The tariffs in force for each employee: their own and their fleet's defaults.
SELECT e.id AS for_employee, t.*
FROM employees e
JOIN tariffs t ON t.fleet_id = e.fleet_id AND (t.employee_id IS NULL OR t.employee_id = e.id)
WHERE e.id = ANY($1::uuid[]) AND t.replaced_by IS NULL;

-- name: insert_correction
INSERT INTO tariff_corrections
    (fleet_id, employee_id, tariff_id, price_per_kwh, valid_from, valid_to, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: replace_tariff
UPDATE tariffs SET replaced_by = $2 WHERE id = $1 AND replaced_by IS NULL RETURNING *;

-- name: insert_corrected_tariff
INSERT INTO tariffs
    (id, fleet_id, employee_id, price_per_kwh, currency, valid_from, valid_to, source,
     correction_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *;
