-- name: vehicles_by_state
SELECT sync_state, count(*) AS n FROM vehicles GROUP BY sync_state;

-- name: days_at_risk
-- Unread days that leave the 30-day window within $2 days (today from $1, in UTC), summed
-- over vehicles, and the number of vehicles holding any; the planner's deadline arithmetic.
SELECT coalesce(sum(greatest(0, t.today + $2::int - 29 - u.oldest_unread)), 0)::bigint AS days,
       count(*) FILTER (WHERE t.today + $2::int - 29 - u.oldest_unread > 0) AS vehicles
FROM vehicles v,
     LATERAL (SELECT ($1 AT TIME ZONE 'UTC')::date AS today) t,
     LATERAL (SELECT coalesce(v.access_granted_on, t.today - 29) AS first_readable) f,
     LATERAL (SELECT greatest(coalesce(v.synced_through + 1, f.first_readable),
                              f.first_readable, t.today - 29) AS oldest_unread) u
WHERE v.sync_state <> 'not_capable';

-- name: statements_by_status
SELECT status, count(*) AS n FROM statements GROUP BY status;
