-- name: pending_totals
SELECT l.employee_id, e.external_ref, e.name, l.period, l.currency,
       count(*) AS count, sum(l.amount) AS amount
FROM line_items l JOIN employees e ON e.id = l.employee_id
WHERE l.fleet_id = $1 AND l.status = 'pending'
GROUP BY l.employee_id, e.external_ref, e.name, l.period, l.currency
ORDER BY e.name, l.employee_id, l.period, l.currency;

-- name: unpriced_days
SELECT c.employee_id, e.external_ref, e.name,
       count(DISTINCT c.charge_date) AS days, count(*) AS records, sum(c.home_kwh) AS kwh,
       min(c.charge_date) AS first_day, max(c.charge_date) AS last_day
FROM charge_records c
JOIN vehicles v ON v.id = c.vehicle_id
JOIN employees e ON e.id = c.employee_id
WHERE v.fleet_id = $1
  AND c.home_kwh > 0
  AND NOT EXISTS (
      SELECT 1 FROM line_items l WHERE l.charge_record_id = c.id AND l.kind = 'charge')
GROUP BY c.employee_id, e.external_ref, e.name
ORDER BY e.name, c.employee_id;

-- name: budget_left
SELECT tokens FROM smartcar_budget WHERE id = 1;
