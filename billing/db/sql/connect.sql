-- name: consume_state
INSERT INTO connect_states (nonce, employee_id) VALUES ($1, $2)
ON CONFLICT (nonce) DO NOTHING
RETURNING nonce;

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
