-- name: ensure_bucket
INSERT INTO smartcar_budget (id, tokens, refilled_at) VALUES (1, $1, now())
ON CONFLICT (id) DO NOTHING;

-- name: lock_bucket
-- First statement of a transaction that settles: the statements after it see every lease
-- committed by the transaction it waited for.
SELECT 1 FROM smartcar_budget WHERE id = 1 FOR UPDATE;

-- name: settle_tokens
-- Refill by elapsed time, up to the capacity less the calls in flight: the leased vehicles,
-- less $3 leases this transaction took (no call yet), plus $4 it ended (in flight until now).
-- While calls travel, Smartcar's bucket is that much fuller than ours and stops at the
-- capacity first: refill it would not get must not be granted here. Settled whenever the
-- leases change (a take, the end of a read), so the cap holds over every elapsed interval.
-- Truncated to the column's scale: never rounded up into a fraction Smartcar does not have.
UPDATE smartcar_budget
SET tokens = trunc(greatest(0, least(
        $1::numeric - ((SELECT count(*) FROM vehicles WHERE lease_until > clock_timestamp())
                       - $3::int + $4::int),
        tokens + greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))
                 / 60 * $2::numeric)), 4),
    refilled_at = clock_timestamp()
WHERE id = 1;

-- name: take_tokens
-- Grant up to $1 whole tokens of the settled bucket; one row, so every process agrees.
UPDATE smartcar_budget b
SET tokens = b.tokens - granted.n
FROM (SELECT CASE WHEN paused_until IS NOT NULL AND paused_until > clock_timestamp() THEN 0
                  ELSE least($1::int, floor(tokens)::int) END AS n
      FROM smartcar_budget WHERE id = 1) granted
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

-- name: whole_tokens
-- What a take could grant at most, read without the lock (0 while paused).
SELECT CASE WHEN paused_until > clock_timestamp() THEN 0
            ELSE floor(least($1::numeric,
                             tokens + greatest(0, extract(epoch FROM clock_timestamp()
                                                          - refilled_at))
                                      / 60 * $2::numeric))::int END
FROM smartcar_budget WHERE id = 1;

-- name: peek
SELECT least($1::numeric,
             tokens + greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))
                      / 60 * $2::numeric) AS available,
       paused_until
FROM smartcar_budget WHERE id = 1;
