-- name: get_connection
SELECT * FROM smartcar_connections WHERE id = $1;

-- name: lock_connection
SELECT * FROM smartcar_connections WHERE id = $1 FOR UPDATE;

-- name: store_refreshed
UPDATE smartcar_connections
SET access_token_enc = $2, refresh_token_enc = $3, previous_refresh_enc = refresh_token_enc,
    access_expires_at = $4, refresh_issued_at = $5, generation = generation + 1,
    state = 'active', last_error = NULL, updated_at = now()
WHERE id = $1
RETURNING generation;

-- name: mark_needs_reauth
UPDATE smartcar_connections SET state = 'needs_reauth', last_error = $2, updated_at = now()
WHERE id = $1;

-- name: vehicles_need_reauth
UPDATE vehicles SET sync_state = 'needs_reauth', last_error = $2, lease_owner = NULL,
    lease_until = NULL, updated_at = now()
WHERE connection_id = $1
RETURNING id, fleet_id;

-- name: stale_connections
SELECT id FROM smartcar_connections
WHERE state = 'active' AND refresh_issued_at < $1
ORDER BY refresh_issued_at
LIMIT $2;

-- name: connection_for_user
SELECT id, employee_id FROM smartcar_connections WHERE smartcar_user_id = $1 FOR UPDATE;

-- name: insert_connection
INSERT INTO smartcar_connections
    (employee_id, smartcar_user_id, access_token_enc, refresh_token_enc, access_expires_at,
     refresh_issued_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: replace_connection_tokens
-- Fresh tokens for the same Smartcar user; the connection stays with its employee.
UPDATE smartcar_connections
SET access_token_enc = $2, refresh_token_enc = $3, previous_refresh_enc = NULL,
    access_expires_at = $4, refresh_issued_at = $5, generation = generation + 1,
    state = 'active', last_error = NULL, updated_at = now()
WHERE id = $1;
