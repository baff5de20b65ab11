-- name: horizon
-- Every transaction with a smaller id has ended: its events are committed and final.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text;

-- name: list_changes
SELECT id, xid::text AS xid, at, entity, entity_id, action, actor, fleet_id,
       coalesce(after, before) AS data
FROM audit_events
WHERE (xid, id) > ($1::text::xid8, $2::bigint)
  AND xid < $3::text::xid8
  AND entity = ANY($4::text[])
  AND ($5::uuid IS NULL OR fleet_id = $5)
ORDER BY xid, id
LIMIT $6;
