-- name: claim_key
-- A new key, or one whose lease or replay period is over, becomes this attempt's.
INSERT INTO idempotency_keys
    (api_key_id, key, claim, method, path, request_hash, expires_at)
VALUES ($1, $2, gen_random_uuid(), $3, $4, $5, now() + make_interval(secs => $6))
ON CONFLICT (api_key_id, key) DO UPDATE SET
    claim = EXCLUDED.claim,
    method = EXCLUDED.method,
    path = EXCLUDED.path,
    request_hash = EXCLUDED.request_hash,
    state = 'in_flight',
    response_status = NULL,
    response_body = NULL,
    response_type = NULL,
    created_at = now(),
    expires_at = EXCLUDED.expires_at
WHERE idempotency_keys.expires_at <= now()
RETURNING claim;

-- name: get_key
SELECT request_hash, state, response_status, response_body, response_type
FROM idempotency_keys
WHERE api_key_id = $1 AND key = $2 AND expires_at > now();

-- name: finish_key
UPDATE idempotency_keys SET
    state = 'done',
    response_status = $4,
    response_body = $5,
    response_type = $6,
    expires_at = now() + make_interval(secs => $7)
WHERE api_key_id = $1 AND key = $2 AND claim = $3 AND state = 'in_flight'
RETURNING claim;

-- name: release_key
DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND claim = $3;

-- name: purge_expired
-- SKIP LOCKED: purgers in several processes share the work instead of queueing on it.
DELETE FROM idempotency_keys
WHERE (api_key_id, key) IN (
    SELECT api_key_id, key FROM idempotency_keys
    WHERE expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
);
