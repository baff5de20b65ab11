-- name: get_connection
SELECT * FROM smartcar_connections WHERE id = $1;

-- name: lock_connection
SELECT * FROM smartcar_connections WHERE id = $1 FOR UPDATE;

-- name: store_refreshed
UPDATE smartcar_connections
SET access_token_enc = $2, refresh_token_enc = $3, previous_refresh_enc = NULL,
    access_expires_at = $4, refresh_issued_at = $5, generation = generation + 1,
    state = 'active', last_error = NULL, updated_at = now()
WHERE id = $1
RETURNING generation;

-- name: mark_needs_reauth
UPDATE smartcar_connections SET state = 'needs_reauth', last_error = $2, updated_at = now()
WHERE id = $1;

-- name: stale_connections
SELECT id, refresh_issued_at FROM smartcar_connections
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

-- name: insert_imported_connection
-- Tokens an admin imports: no Smartcar user id is known until the first refresh.
INSERT INTO smartcar_connections
    (employee_id, access_token_enc, refresh_token_enc, access_expires_at, refresh_issued_at)
VALUES ($1, $2, $3, $4, now())
RETURNING id;

-- name: replace_connection_tokens
-- Fresh tokens for the same Smartcar user; the connection stays with its employee.
UPDATE smartcar_connections
SET access_token_enc = $2, refresh_token_enc = $3, previous_refresh_enc = NULL,
    access_expires_at = $4, refresh_issued_at = $5, generation = generation + 1,
    state = 'active', last_error = NULL, updated_at = now()
WHERE id = $1;

-- name: mark_needs_key
-- No key of the process that tried decrypts the stored tokens; its vehicles are not claimed.
UPDATE smartcar_connections SET state = 'needs_key', last_error = $2, updated_at = now()
WHERE id = $1 AND state = 'active';

-- name: needs_key_connections
SELECT id, access_token_enc, refresh_token_enc FROM smartcar_connections
WHERE state = 'needs_key'
ORDER BY id;

-- name: revive_connection
UPDATE smartcar_connections SET state = 'active', last_error = NULL, updated_at = now()
WHERE id = $1 AND state = 'needs_key'
RETURNING id;

-- name: sample_tokens
-- The most recently written tokens, to check at start that the configured keys read them.
SELECT id, access_token_enc FROM smartcar_connections
WHERE state <> 'needs_key'
ORDER BY updated_at DESC, id
LIMIT $1;

-- name: tokens_to_rotate
SELECT id, access_token_enc, refresh_token_enc, previous_refresh_enc
FROM smartcar_connections
WHERE id > $1
ORDER BY id
LIMIT $2
FOR UPDATE;

-- name: store_rotated
UPDATE smartcar_connections
SET access_token_enc = $2, refresh_token_enc = $3, previous_refresh_enc = $4
WHERE id = $1;

-- name: add_fingerprint
INSERT INTO smartcar_refresh_fingerprints (sha256, connection_id) VALUES ($1, $2)
ON CONFLICT (sha256) DO NOTHING;

-- name: connection_for_fingerprint
SELECT c.id, c.employee_id, c.state
FROM smartcar_refresh_fingerprints f JOIN smartcar_connections c ON c.id = f.connection_id
WHERE f.sha256 = $1
FOR UPDATE OF c;
