-- name: horizon
-- Every transaction with a smaller id has ended: its events are committed and final.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text;

-- name: list_changes
-- Ordered by the xid8 column itself, as a number: an output column named like it would make
-- ORDER BY sort its text, and "100000" < "99999" loses and repeats changes across a digit.
-- The snapshot as text: the public models read it without decoding what they do not show.
SELECT id, xid::text AS xid_text, at, entity, entity_id, action, actor, fleet_id,
       coalesce(after, before)::text AS data
FROM audit_events
WHERE (xid, id) > ($1::text::xid8, $2::bigint)
  AND xid < $3::text::xid8
  AND entity = ANY($4::text[])
  AND ($5::uuid IS NULL OR fleet_id = $5)
ORDER BY audit_events.xid, audit_events.id
LIMIT $6;

-- name: held_back
-- What holds the feed back: the oldest running transaction with an id, in any database of
-- the server (the horizon is pg_snapshot_xmin, server-wide). Its age counts from its start;
-- the start of another role's transaction is only visible with pg_read_all_stats (else
-- NULL). `xids` is how many ids the horizon trails the next one to be handed out.
SELECT extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age_s,
       (pg_snapshot_xmax(s.snap)::text::numeric
        - pg_snapshot_xmin(s.snap)::text::numeric)::bigint AS xids
FROM (SELECT pg_current_snapshot() AS snap) AS s
LEFT JOIN LATERAL (
    SELECT xact_start FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    ORDER BY age(backend_xid) DESC
    LIMIT 1
) AS a ON true;
