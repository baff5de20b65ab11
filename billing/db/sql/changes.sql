-- name: horizon
-- Every transaction with a smaller id has ended: its events are committed and final.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text;

-- name: list_changes
-- Ordered by the xid8 column itself, as a number: an output column named like it would make
-- ORDER BY sort its text, and "100000" < "99999" loses and repeats changes across a digit.
SELECT id, xid::text AS xid_text, at, entity, entity_id, action, actor, fleet_id,
       coalesce(after, before) AS data
FROM audit_events
WHERE (xid, id) > ($1::text::xid8, $2::bigint)
  AND xid < $3::text::xid8
  AND entity = ANY($4::text[])
  AND ($5::uuid IS NULL OR fleet_id = $5)
ORDER BY audit_events.xid, audit_events.id
LIMIT $6;
