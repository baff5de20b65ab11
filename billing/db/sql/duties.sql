-- name: made_by_person
-- Employee records and vehicle links that keys bound to employee $1 created: their money is
-- that person's own too (segregation of duties counts who made a record, not only its id).
SELECT entity, entity_id FROM audit_events
WHERE actor IN (SELECT 'api_key:' || prefix FROM api_keys WHERE employee_id = $1)
  AND ((entity = 'employee' AND action = 'create')
       OR (entity = 'vehicle' AND action IN ('create', 'link', 'relink')));

-- name: own_unpriced
-- Whether a new tariff of fleet $1 over [$4, $5) would price a day of these employees or cars.
SELECT EXISTS (
    SELECT 1 FROM charge_records r JOIN employees e ON e.id = r.employee_id
    WHERE e.fleet_id = $1
      AND (r.employee_id = ANY($2::uuid[]) OR r.vehicle_id = ANY($3::uuid[]))
      AND r.home_kwh > 0
      AND r.charge_date >= $4 AND ($5::date IS NULL OR r.charge_date < $5)
      AND NOT EXISTS (SELECT 1 FROM line_items l WHERE l.charge_record_id = r.id)
);

-- name: vehicles_of_records
SELECT DISTINCT vehicle_id FROM charge_records WHERE id = ANY($1::uuid[]);
