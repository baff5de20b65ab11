-- name: insert_reassignment
INSERT INTO reassignments
    (fleet_id, employee_id, current_employee_id, connection_id, vehicle_id, requested_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (coalesce(connection_id, vehicle_id), employee_id) WHERE status = 'pending'
DO NOTHING
RETURNING *;

-- name: list_reassignments
SELECT * FROM reassignments
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::text IS NULL OR status = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
ORDER BY created_at, id
LIMIT $5;

-- name: lock_reassignment
SELECT * FROM reassignments WHERE id = $1 FOR UPDATE;

-- name: decide_reassignment
UPDATE reassignments SET status = $2, decided_by = $3, decided_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING *;

-- name: vehicle_owner
SELECT id, fleet_id, employee_id FROM vehicles WHERE smartcar_vehicle_id = $1;

-- name: move_connection
-- The account and the cars on it that were the previous employee's go to the new one.
UPDATE smartcar_connections SET employee_id = $2, updated_at = now() WHERE id = $1;

-- name: move_connection_vehicles
UPDATE vehicles SET employee_id = $2, updated_at = now()
WHERE connection_id = $1 AND employee_id = $3
RETURNING id;

-- name: move_vehicle
UPDATE vehicles SET employee_id = $2, updated_at = now()
WHERE id = $1 AND employee_id = $3
RETURNING id;
