-- name: insert_vehicle
INSERT INTO vehicles
    (fleet_id, employee_id, connection_id, smartcar_vehicle_id, make, access_granted_on,
     next_sync_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
RETURNING id;

-- name: get_vehicle
SELECT v.*, c.state AS connection_state
FROM vehicles v LEFT JOIN smartcar_connections c ON c.id = v.connection_id
WHERE v.id = $1;

-- name: list_vehicles
SELECT v.*, c.state AS connection_state
FROM vehicles v LEFT JOIN smartcar_connections c ON c.id = v.connection_id
WHERE ($1::uuid IS NULL OR v.fleet_id = $1)
  AND ($2::uuid IS NULL OR v.employee_id = $2)
  AND ($3::text IS NULL OR v.sync_state = $3)
  AND ($4::timestamptz IS NULL OR (v.created_at, v.id) > ($4, $5::uuid))
ORDER BY v.created_at, v.id
LIMIT $6;

-- name: request_sync
UPDATE vehicles SET next_sync_at = now(), updated_at = now()
WHERE id = $1 AND sync_state NOT IN ('not_capable')
RETURNING id;
