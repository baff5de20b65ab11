-- name: fleet_named
SELECT id FROM fleets WHERE name = $1;

-- name: first_employee
SELECT id FROM employees WHERE fleet_id = $1 ORDER BY external_ref LIMIT 1;

-- name: employees_of_fleet_named
SELECT e.id FROM employees e JOIN fleets f ON f.id = e.fleet_id
WHERE f.name = $1 ORDER BY e.external_ref;

-- name: has_adjustments
SELECT EXISTS (SELECT 1 FROM line_items WHERE kind = 'adjustment');

-- name: recent_pending_charges
SELECT l.id, l.vehicle_id, l.version, l.charge_date, v.smartcar_vehicle_id
FROM line_items l JOIN vehicles v ON v.id = l.vehicle_id
WHERE l.status = 'pending' AND l.kind = 'charge' AND l.charge_date >= $1
ORDER BY l.charge_date DESC;

-- name: demo_vehicles_by_state
SELECT sync_state, count(*) AS n FROM vehicles GROUP BY 1 ORDER BY 1;

-- name: line_totals
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE kind = 'adjustment') AS adjustments,
       coalesce(sum(amount) FILTER (WHERE status = 'pending'), 0) AS pending_amount
FROM line_items;

-- name: demo_unpriced_days
SELECT count(*) FROM charge_records r WHERE r.home_kwh > 0 AND NOT EXISTS
    (SELECT 1 FROM line_items l WHERE l.charge_record_id = r.id);
