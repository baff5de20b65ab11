-- name: queue
-- Line items as a person reviews them: with employee and vehicle names and the record's flags,
-- filtered and sorted on the server. The sort key and direction are chosen from fixed values.
SELECT l.id, l.fleet_id, l.employee_id, e.name AS employee_name, l.vehicle_id,
       v.make || ' ' || right(v.smartcar_vehicle_id, 6) AS vehicle_name,
       l.charge_date, l.period, l.kind, l.adjusts_id, l.kwh, l.unit_price, l.currency,
       l.amount, l.status, l.version, l.decided_by, l.decided_at, l.reason, l.statement_id,
       c.flags
FROM line_items l
JOIN employees e ON e.id = l.employee_id
JOIN vehicles v ON v.id = l.vehicle_id
JOIN charge_records c ON c.id = l.charge_record_id
WHERE ($1::uuid IS NULL OR l.fleet_id = $1)
  AND ($2::uuid IS NULL OR l.employee_id = $2)
  AND ($3::text IS NULL OR l.status = $3)
  AND ($4::text IS NULL OR l.period = $4)
  AND ($5::text IS NULL OR l.kind = $5)
  AND ($6::text IS NULL OR $6 = ANY (c.flags))
ORDER BY
  CASE WHEN $7 = 'charge_date' AND NOT $8 THEN l.charge_date END,
  CASE WHEN $7 = 'charge_date' AND $8 THEN l.charge_date END DESC,
  CASE WHEN $7 = 'amount' AND NOT $8 THEN l.amount END,
  CASE WHEN $7 = 'amount' AND $8 THEN l.amount END DESC,
  CASE WHEN $7 = 'employee' AND NOT $8 THEN e.name END,
  CASE WHEN $7 = 'employee' AND $8 THEN e.name END DESC,
  l.charge_date, l.id
LIMIT $9 OFFSET $10;

-- name: queue_count
SELECT count(*)
FROM line_items l
JOIN charge_records c ON c.id = l.charge_record_id
WHERE ($1::uuid IS NULL OR l.fleet_id = $1)
  AND ($2::uuid IS NULL OR l.employee_id = $2)
  AND ($3::text IS NULL OR l.status = $3)
  AND ($4::text IS NULL OR l.period = $4)
  AND ($5::text IS NULL OR l.kind = $5)
  AND ($6::text IS NULL OR $6 = ANY (c.flags));

-- name: monthly_totals
-- Home kWh and amounts per month and status, newest months first.
SELECT period, currency, status, sum(kwh) AS kwh, sum(amount) AS amount, count(*) AS lines
FROM line_items
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::uuid IS NULL OR employee_id = $2)
GROUP BY period, currency, status
ORDER BY period DESC, currency, status
LIMIT 240;

-- name: employee_names
SELECT id, name FROM employees
WHERE ($1::uuid IS NULL OR fleet_id = $1) AND ($2::uuid IS NULL OR id = $2)
ORDER BY name, id;
