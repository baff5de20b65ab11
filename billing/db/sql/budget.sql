-- Every statement takes the time as its last parameter: NULL is the database's clock
-- (clock_timestamp(), the one clock all processes share), a timestamp drives the bucket in
-- virtual time (the equivalence test with billing.domain.bucket, the capacity benchmark).

-- name: ensure_bucket
INSERT INTO smartcar_budget (id, tokens, refilled_at)
VALUES (1, $1, coalesce($2::timestamptz, clock_timestamp()))
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
-- Multiplied before dividing: 0.5 s at 600/min is 5 tokens, not 4.9999.
-- Nothing accrues before refilled_at (a drain moves it to the end of the pause), and
-- refilled_at never moves back.
UPDATE smartcar_budget b
SET tokens = trunc(greatest(0, least(
        $1::numeric - ((SELECT count(*) FROM vehicles WHERE lease_until > c.now)
                       - $3::int + $4::int),
        b.tokens + greatest(0, extract(epoch FROM c.now - b.refilled_at)) * $2::numeric
                   / 60)), 4),
    refilled_at = greatest(b.refilled_at, c.now)
FROM (SELECT coalesce($5::timestamptz, clock_timestamp()) AS now) c
WHERE b.id = 1;

-- name: take_tokens
-- Grant up to $1 whole tokens of the settled bucket; one row, so every process agrees.
UPDATE smartcar_budget b
SET tokens = b.tokens - granted.n
FROM (SELECT CASE WHEN paused_until IS NOT NULL
                       AND paused_until > coalesce($2::timestamptz, clock_timestamp()) THEN 0
                  ELSE least($1::int, floor(tokens)::int) END AS n
      FROM smartcar_budget WHERE id = 1) granted
WHERE b.id = 1
RETURNING granted.n AS granted, b.tokens AS left_over, b.paused_until;

-- name: refund_tokens
UPDATE smartcar_budget SET tokens = least($1::numeric, tokens + $2::numeric) WHERE id = 1;

-- name: drain
-- Smartcar said the application is over budget: empty, and accrue nothing until the pause
-- ends (refilled_at moves there too). Never shortens a pause already in force.
UPDATE smartcar_budget b
SET tokens = 0,
    refilled_at = greatest(b.refilled_at, c.now, c.now + make_interval(secs => $1)),
    paused_until = greatest(b.refilled_at, c.now, c.now + make_interval(secs => $1))
FROM (SELECT coalesce($2::timestamptz, clock_timestamp()) AS now) c
WHERE b.id = 1;

-- name: whole_tokens
-- What a take could grant at most, read without the lock (0 while paused).
SELECT CASE WHEN paused_until > c.now THEN 0
            ELSE floor(least($1::numeric,
                             tokens + greatest(0, extract(epoch FROM c.now - refilled_at)) * $2::numeric
                                      / 60))::int END
FROM smartcar_budget, (SELECT coalesce($3::timestamptz, clock_timestamp()) AS now) c
WHERE id = 1;

-- name: peek
SELECT least($1::numeric,
             tokens + greatest(0, extract(epoch FROM c.now - refilled_at)) * $2::numeric
                      / 60) AS available,
       tokens, refilled_at, paused_until
FROM smartcar_budget, (SELECT coalesce($3::timestamptz, clock_timestamp()) AS now) c
WHERE id = 1;

-- name: settle_take
-- settle_tokens, then refund_tokens of $6 calls granted but not made, then take_tokens of $7,
-- in one statement under the lock taken by lock_bucket: the same arithmetic in the same
-- order, so the row ends as the three statements would leave it.
UPDATE smartcar_budget b
SET tokens = r.refunded - g.n,
    refilled_at = greatest(b.refilled_at, c.now)
FROM (SELECT coalesce($5::timestamptz, clock_timestamp()) AS now) c,
     LATERAL (SELECT trunc(greatest(0, least(
                  $1::numeric - ((SELECT count(*) FROM vehicles WHERE lease_until > c.now)
                                 - $3::int + $4::int),
                  s.tokens + greatest(0, extract(epoch FROM c.now - s.refilled_at))
                             * $2::numeric / 60)), 4) AS settled
              FROM smartcar_budget s WHERE s.id = 1) st,
     LATERAL (SELECT CASE WHEN $6::int > 0 THEN least($1::numeric, st.settled + $6::numeric)
                          ELSE st.settled END AS refunded) r,
     LATERAL (SELECT CASE WHEN b2.paused_until IS NOT NULL AND b2.paused_until > c.now THEN 0
                          ELSE least($7::int, floor(r.refunded)::int) END AS n
              FROM smartcar_budget b2 WHERE b2.id = 1) g
WHERE b.id = 1
RETURNING g.n AS granted;
