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

-- name: move_vehicle
UPDATE vehicles SET
    employee_id = $2, connection_id = $3,
    sync_state = CASE WHEN synced_through IS NULL THEN 'new' ELSE 'ok' END,
    last_error = NULL, not_before = NULL, consecutive_failures = 0, next_sync_at = now(),
    updated_at = now()
WHERE id = $1
RETURNING id;

-- name: vehicles_need_reauth
UPDATE vehicles SET sync_state = 'needs_reauth', last_error = $2, lease_owner = NULL,
    lease_until = NULL, updated_at = now()
WHERE connection_id = $1
RETURNING id, fleet_id;
