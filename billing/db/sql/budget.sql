-- name: ensure_bucket
INSERT INTO smartcar_budget (id, tokens, refilled_at) VALUES (1, $1, now())
ON CONFLICT (id) DO NOTHING;

-- name: take_tokens
-- Refill by elapsed time, then grant up to $3 whole tokens; one row, so every process agrees.
WITH current AS (
    SELECT least($1::numeric,
                 tokens + greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))
                          / 60 * $2::numeric) AS available,
           paused_until
    FROM smartcar_budget WHERE id = 1 FOR UPDATE
), granted AS (
    SELECT CASE WHEN paused_until IS NOT NULL AND paused_until > clock_timestamp() THEN 0
                ELSE least($3::int, floor(available)::int) END AS n,
           available
    FROM current
)
UPDATE smartcar_budget b
SET tokens = granted.available - granted.n, refilled_at = clock_timestamp()
FROM granted
WHERE b.id = 1
RETURNING granted.n AS granted, b.tokens AS left_over, b.paused_until;

-- name: refund_tokens
UPDATE smartcar_budget SET tokens = least($1::numeric, tokens + $2::numeric) WHERE id = 1;

-- name: drain
UPDATE smartcar_budget
SET tokens = 0, refilled_at = clock_timestamp(),
    paused_until = greatest(coalesce(paused_until, clock_timestamp()),
                            clock_timestamp() + make_interval(secs => $1))
WHERE id = 1;

-- name: peek
SELECT least($1::numeric,
             tokens + greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))
                      / 60 * $2::numeric) AS available,
       paused_until
FROM smartcar_budget WHERE id = 1;
