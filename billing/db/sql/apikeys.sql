-- name: insert_key
INSERT INTO api_keys (prefix, secret_hash, role, fleet_id, employee_id, name)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: find_by_prefix
SELECT id, prefix, secret_hash, role, fleet_id, employee_id, revoked_at
FROM api_keys WHERE prefix = $1;

-- name: revoke_key
UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL RETURNING id;
