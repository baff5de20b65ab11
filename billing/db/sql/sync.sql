-- name: release_all
UPDATE vehicles SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1
RETURNING id;

-- name: due_count
-- The vehicles claim_for_sync would hand out (planner.is_due), leased or not: a vehicle backing
-- off (not_before) is not due, so a pass's progress counts only what it will read.
SELECT count(*) FROM vehicles v
WHERE v.sync_state NOT IN ('needs_reauth', 'owner_action', 'not_capable')
  AND ($3::boolean OR coalesce(v.next_sync_at, '-infinity') <= $1)
  AND coalesce(v.not_before, '-infinity') <= $1
  AND ($2::uuid[] IS NULL OR v.id = ANY($2))
  AND NOT EXISTS (SELECT 1 FROM smartcar_connections c
                  WHERE c.id = v.connection_id AND c.state = 'needs_key');

-- name: deadlines_at_risk
-- Vehicles whose oldest unread day is lost within $2 days (planner.deadline), including those
-- waiting for the employee to reconnect: they are at risk too.
SELECT count(*) FROM vehicles v,
     LATERAL (SELECT ($1 AT TIME ZONE 'UTC')::date AS today) t,
     LATERAL (SELECT coalesce(v.access_granted_on, t.today - 29) AS first_readable) f
WHERE v.sync_state <> 'not_capable'
  AND greatest(coalesce(v.synced_through + 1, f.first_readable), f.first_readable) + 29
      < t.today + $2::int;

-- name: claim_for_sync
-- Due vehicles, most urgent first (planner.priority_key), leased so no other process reads
-- them: up to $3, and no more than the bucket's whole tokens ($7 capacity, $8 rate per
-- minute; budget.sql's whole_tokens). Returns what a read needs: the vehicle, its employee's
-- zone, its connection's stored access token, and the fleet's size for the next read's
-- interval (one count per claim, not per read).
WITH budget AS (
    SELECT CASE WHEN paused_until > c.now THEN 0
                ELSE floor(least($7::numeric,
                                 tokens + greatest(0, extract(epoch FROM c.now - refilled_at))
                                          * $8::numeric / 60))::int END AS whole
    FROM smartcar_budget, (SELECT clock_timestamp() AS now) c
    WHERE id = 1
),
due AS (
    SELECT v.id
    FROM vehicles v,
         LATERAL (SELECT ($1 AT TIME ZONE 'UTC')::date AS today) t,
         LATERAL (SELECT coalesce(v.access_granted_on, t.today - 29) AS first_readable) f,
         LATERAL (SELECT t.today,
                         greatest(coalesce(v.synced_through + 1, f.first_readable),
                                  f.first_readable) + 29 AS deadline) d
    WHERE v.sync_state NOT IN ('needs_reauth', 'owner_action', 'not_capable')
      AND ($6::boolean OR coalesce(v.next_sync_at, '-infinity') <= $1)
      AND coalesce(v.not_before, '-infinity') <= $1
      AND (v.lease_until IS NULL OR v.lease_until < $1)
      AND ($4::uuid[] IS NULL OR v.id = ANY($4))
      AND NOT EXISTS (SELECT 1 FROM smartcar_connections c
                      WHERE c.id = v.connection_id AND c.state = 'needs_key')
    ORDER BY
      CASE WHEN v.synced_through IS NULL
           THEN least(greatest(d.deadline, d.today), d.today + 1)
           ELSE greatest(d.deadline, d.today) END,
      v.last_success_at ASC NULLS FIRST,
      v.id
    LIMIT least($3::int, coalesce((SELECT whole FROM budget), $7::int))
    FOR UPDATE OF v SKIP LOCKED
),
leased AS (
    UPDATE vehicles v SET lease_owner = $2, lease_until = $1 + make_interval(secs => $5),
        updated_at = now()
    FROM due WHERE v.id = due.id
    RETURNING v.id, v.fleet_id, v.employee_id, v.connection_id, v.smartcar_vehicle_id,
              v.sync_state, v.synced_through, v.access_granted_on, v.last_success_at,
              v.next_sync_at, v.not_before, v.consecutive_failures, v.lease_until, v.last_error
)
SELECT l.id, l.fleet_id, l.employee_id, l.connection_id, l.smartcar_vehicle_id, l.sync_state,
       l.synced_through, l.access_granted_on, l.last_success_at, l.next_sync_at, l.not_before,
       l.consecutive_failures, l.lease_until, l.last_error,
       coalesce(e.timezone, f.timezone) AS timezone, c.state AS connection_state,
       c.access_token_enc, c.access_expires_at, c.generation, c.last_error AS connection_error,
       (SELECT count(*) FROM vehicles
        WHERE sync_state NOT IN ('needs_reauth', 'owner_action', 'not_capable')) AS fleet_size
FROM leased l
JOIN employees e ON e.id = l.employee_id
JOIN fleets f ON f.id = l.fleet_id
LEFT JOIN smartcar_connections c ON c.id = l.connection_id;

-- name: vehicle_read
-- One vehicle as claim_for_sync returns it, leased or not.
SELECT v.id, v.fleet_id, v.employee_id, v.connection_id, v.smartcar_vehicle_id, v.sync_state,
       v.synced_through, v.access_granted_on, v.last_success_at, v.next_sync_at, v.not_before,
       v.consecutive_failures, v.lease_until, v.last_error,
       coalesce(e.timezone, f.timezone) AS timezone, c.state AS connection_state,
       c.access_token_enc, c.access_expires_at, c.generation, c.last_error AS connection_error,
       (SELECT count(*) FROM vehicles
        WHERE sync_state NOT IN ('needs_reauth', 'owner_action', 'not_capable')) AS fleet_size
FROM vehicles v
JOIN employees e ON e.id = v.employee_id
JOIN fleets f ON f.id = v.fleet_id
LEFT JOIN smartcar_connections c ON c.id = v.connection_id
WHERE v.id = $1;

-- name: release_leases
-- The leases of finished reads ($1) this worker ($2) still holds.
UPDATE vehicles SET lease_owner = NULL, lease_until = NULL
WHERE id = ANY($1::uuid[]) AND lease_owner = $2
RETURNING id;

-- name: record_success_logged
-- The vehicle read through $2 at $3, next read at $4; its call logged.
WITH logged AS (
    INSERT INTO smartcar_calls
        (vehicle_id, connection_id, endpoint, status, outcome, request_id, worker)
    VALUES ($1, $5, $6, 200, 'ok', $7, $8)
)
UPDATE vehicles
SET sync_state = 'ok', synced_through = greatest(synced_through, $2), last_attempt_at = $3,
    last_success_at = $3, consecutive_failures = 0, last_error = NULL, not_before = NULL,
    next_sync_at = $4, updated_at = now()
WHERE id = $1;

-- name: record_failure_logged
-- The vehicle's failed read; its call logged when $6 (the HTTP status) is not NULL.
WITH logged AS (
    INSERT INTO smartcar_calls
        (vehicle_id, connection_id, endpoint, status, outcome, request_id, worker)
    SELECT $1, $7, $8, $6, $9, $10, $11
    WHERE $6::int IS NOT NULL
)
UPDATE vehicles
SET sync_state = $2, last_attempt_at = $3, last_error = $4, not_before = $5,
    next_sync_at = coalesce($5, next_sync_at),
    consecutive_failures = consecutive_failures + 1, updated_at = now()
WHERE id = $1;
