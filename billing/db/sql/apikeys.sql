-- name: insert_key
INSERT INTO api_keys (prefix, secret_hash, role, fleet_id, employee_id, name, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, prefix, role, fleet_id, employee_id, name, created_at, expires_at, revoked_at,
          last_used_at;

-- name: find_by_prefix
SELECT id, prefix, secret_hash, role, fleet_id, employee_id, revoked_at, expires_at,
       last_used_at
FROM api_keys WHERE prefix = $1;

-- name: touch_key
UPDATE api_keys SET last_used_at = $2 WHERE id = $1;

-- name: list_keys
SELECT id, prefix, role, fleet_id, employee_id, name, created_at, expires_at, revoked_at,
       last_used_at
FROM api_keys
ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL
RETURNING id, prefix, role, fleet_id, employee_id, name, created_at, expires_at, revoked_at,
          last_used_at;

-- name: key_by_prefix
SELECT id, prefix, role, fleet_id, employee_id, name, created_at, expires_at, revoked_at,
       last_used_at
FROM api_keys WHERE prefix = $1;
