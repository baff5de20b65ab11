-- name: records_for_pricing
SELECT r.id, r.vehicle_id, r.employee_id, e.fleet_id, r.charge_date, r.home_kwh, r.revision,
       r.request_id, r.fetched_at, r.source
FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE r.id = ANY($1::uuid[]);

-- name: employee_records_in_periods
SELECT r.id, r.vehicle_id, r.employee_id, e.fleet_id, r.charge_date, r.home_kwh, r.revision,
       r.request_id, r.fetched_at, r.source
FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE r.employee_id = $1 AND to_char(r.charge_date, 'YYYY-MM') = ANY($2::text[]);

-- name: lock_lines
-- In id order, as decisions and corrections lock lines, so none of them can deadlock another.
SELECT * FROM line_items WHERE charge_record_id = ANY($1::uuid[])
ORDER BY id
FOR UPDATE;

-- name: insert_line
INSERT INTO line_items
    (fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kind, adjusts_id,
     kwh, unit_price, currency, amount, tariff_id, evidence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING *;

-- name: insert_charge_lines
-- insert_line for many charge lines in one statement (arrays, one element per line; evidence
-- as JSON text), in the arrays' order.
INSERT INTO line_items
    (fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kind, adjusts_id,
     kwh, unit_price, currency, amount, tariff_id, evidence)
SELECT l.fleet_id, l.employee_id, l.vehicle_id, l.charge_record_id, l.charge_date, l.period,
       'charge', NULL, l.kwh, l.unit_price, l.currency, l.amount, l.tariff_id, l.evidence::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::date[], $6::text[],
            $7::numeric[], $8::numeric[], $9::text[], $10::numeric[], $11::uuid[],
            $12::text[]) WITH ORDINALITY
     AS l(fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kwh,
          unit_price, currency, amount, tariff_id, evidence, n)
ORDER BY l.n
RETURNING *;

-- name: update_pending_line
UPDATE line_items
SET kwh = $3, unit_price = $4, amount = $5, currency = $6, tariff_id = $7, evidence = $8,
    version = version + 1, updated_at = now()
WHERE id = $1 AND version = $2 AND status = 'pending'
RETURNING *;

-- name: unpriced_records
-- Days with home energy and no line, in a tariff's scope and range: a new tariff prices them.
SELECT r.id FROM charge_records r JOIN employees e ON e.id = r.employee_id
WHERE e.fleet_id = $1
  AND ($2::uuid IS NULL OR r.employee_id = $2)
  AND r.home_kwh > 0
  AND r.charge_date >= $3 AND ($4::date IS NULL OR r.charge_date < $4)
  AND NOT EXISTS (SELECT 1 FROM line_items l WHERE l.charge_record_id = r.id)
ORDER BY r.employee_id, r.charge_date;

-- name: employee_pricing
-- The employee's monthly cap and tariffs in one statement: one row without tariff columns
-- when the employee has no tariff.
SELECT e.monthly_cap, t.*
FROM employees e
LEFT JOIN tariffs t ON t.fleet_id = e.fleet_id
                   AND (t.employee_id IS NULL OR t.employee_id = e.id)
                   AND t.replaced_by IS NULL
WHERE e.id = $1;
