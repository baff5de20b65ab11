-- name: consume_state
INSERT INTO connect_states (nonce, employee_id) VALUES ($1, $2)
ON CONFLICT (nonce) DO NOTHING
RETURNING nonce;

-- name: link_vehicle
-- A vehicle seen before keeps its row (and its history); reconnecting makes it readable again.
-- Only its own employee reconnects it: a vehicle of anyone else is never moved (no row back).
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
