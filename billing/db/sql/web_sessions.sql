-- name: insert_session
INSERT INTO web_sessions (id_hash, api_key_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $4, $5);

-- name: find_session
-- A session lives while neither it nor its key is revoked or expired, its absolute expiry is ahead
-- and it was used within the idle limit; using it moves last_seen_at.
UPDATE web_sessions s SET last_seen_at = $2
FROM api_keys k
WHERE s.id_hash = $1
  AND k.id = s.api_key_id
  AND s.revoked_at IS NULL
  AND k.revoked_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > $2)
  AND s.expires_at > $2
  AND s.last_seen_at > $2 - $3::interval
RETURNING s.csrf_token, k.id AS key_id, k.prefix, k.role, k.fleet_id, k.employee_id;

-- name: revoke_session
UPDATE web_sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL;
