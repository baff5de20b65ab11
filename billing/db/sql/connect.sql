-- name: consume_state
INSERT INTO connect_states (nonce, employee_id) VALUES ($1, $2)
ON CONFLICT (nonce) DO NOTHING
RETURNING nonce;

-- name: link_vehicle
-- A vehicle seen before keeps its row (and its history); reconnecting makes it readable again.
-- Connect only ever relinks a vehicle to the employee it already belongs to: a vehicle of
-- another employee (or fleet) returns no row and is left exactly as it was.
INSERT INTO vehicles AS v
    (fleet_id, employee_id, connection_id, smartcar_vehicle_id, make, access_granted_on,
     next_sync_at)
VALUES ($1, $2, $3, $4, 'TESLA', $5, now())
ON CONFLICT (smartcar_vehicle_id) DO UPDATE SET
    employee_id = EXCLUDED.employee_id,
    connection_id = EXCLUDED.connection_id,
    access_granted_on = coalesce(v.access_granted_on, EXCLUDED.access_granted_on),
    sync_state = CASE WHEN v.synced_through IS NULL THEN 'new' ELSE 'ok' END,
    last_error = NULL, not_before = NULL, consecutive_failures = 0, next_sync_at = now(),
    updated_at = now()
WHERE v.fleet_id = EXCLUDED.fleet_id AND v.employee_id = EXCLUDED.employee_id
RETURNING v.id, (v.xmax = 0) AS inserted;

-- name: vehicle_owner
SELECT id, fleet_id, employee_id, connection_id, sync_state
FROM vehicles WHERE smartcar_vehicle_id = $1;

-- name: request_reassignment
INSERT INTO vehicle_reassignments
    (fleet_id, vehicle_id, from_employee_id, to_employee_id, connection_id, requested_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (vehicle_id) WHERE status = 'pending' DO NOTHING
RETURNING id;

-- name: list_reassignments
SELECT r.*, v.make || ' ' || right(v.smartcar_vehicle_id, 6) AS vehicle_name,
       f.name AS from_name, t.name AS to_name
FROM vehicle_reassignments r
JOIN vehicles v ON v.id = r.vehicle_id
JOIN employees f ON f.id = r.from_employee_id
JOIN employees t ON t.id = r.to_employee_id
WHERE ($1::uuid IS NULL OR r.fleet_id = $1)
  AND ($2::text IS NULL OR r.status = $2)
ORDER BY r.created_at, r.id
LIMIT $3;

-- name: lock_reassignment
SELECT * FROM vehicle_reassignments WHERE id = $1 FOR UPDATE;

-- name: decide_reassignment
UPDATE vehicle_reassignments
SET status = $2, decided_by = $3, decided_at = $4, reason = $5
WHERE id = $1 AND status = 'pending'
RETURNING *;

-- name: move_vehicle
UPDATE vehicles SET
    employee_id = $2, connection_id = $3,
    sync_state = CASE WHEN synced_through IS NULL THEN 'new' ELSE 'ok' END,
    last_error = NULL, not_before = NULL, consecutive_failures = 0, next_sync_at = now(),
    updated_at = now()
WHERE id = $1
RETURNING id;
