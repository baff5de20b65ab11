-- name: insert_fleet
INSERT INTO fleets (name, currency, timezone) VALUES ($1, $2, $3) RETURNING *;

-- name: get_fleet
SELECT * FROM fleets WHERE id = $1;

-- name: list_fleets
SELECT * FROM fleets
WHERE ($1::uuid IS NULL OR id = $1)
  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
ORDER BY created_at, id
LIMIT $4;

-- name: insert_employee
INSERT INTO employees (fleet_id, external_ref, name, email, timezone, monthly_cap)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *, (SELECT f.currency FROM fleets f WHERE f.id = employees.fleet_id) AS fleet_currency;

-- name: get_employee
SELECT *, (SELECT f.currency FROM fleets f WHERE f.id = employees.fleet_id) AS fleet_currency FROM employees WHERE id = $1;

-- name: get_employee_for_update
SELECT *, (SELECT f.currency FROM fleets f WHERE f.id = employees.fleet_id) AS fleet_currency FROM employees WHERE id = $1 FOR UPDATE;

-- name: update_employee
UPDATE employees SET
    external_ref = $2, name = $3, email = $4, timezone = $5, monthly_cap = $6, active = $7,
    updated_at = now()
WHERE id = $1
RETURNING *, (SELECT f.currency FROM fleets f WHERE f.id = employees.fleet_id) AS fleet_currency;

-- name: list_employees
SELECT *, (SELECT f.currency FROM fleets f WHERE f.id = employees.fleet_id) AS fleet_currency FROM employees
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::uuid IS NULL OR id = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
ORDER BY created_at, id
LIMIT $5;

-- name: insert_tariff
INSERT INTO tariffs (fleet_id, employee_id, price_per_kwh, currency, valid_from, valid_to, source)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *;

-- name: get_tariff
SELECT * FROM tariffs WHERE id = $1;

-- name: list_tariffs
SELECT * FROM tariffs
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::uuid IS NULL OR employee_id = $2 OR ($3::boolean AND employee_id IS NULL))
  AND ($4::date IS NULL OR (replaced_by IS NULL AND daterange(valid_from, valid_to, '[)') @> $4))
  AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid))
ORDER BY created_at, id
LIMIT $7;

-- name: lock_fleet_tariffs
-- Taken by every tariff change, so a sync pricing records meanwhile (FOR SHARE) is either
-- done before it or sees the new tariff.
SELECT 1 FROM fleets WHERE id = $1 FOR NO KEY UPDATE;

-- name: employee_in_fleet
SELECT 1 FROM employees WHERE id = $1 AND fleet_id = $2;
