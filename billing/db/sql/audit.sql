-- name: insert_event
INSERT INTO audit_events (actor, fleet_id, entity, entity_id, action, before, after, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: list_events
SELECT * FROM audit_events
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::text IS NULL OR entity = $2)
  AND ($3::uuid IS NULL OR entity_id = $3)
  AND id > $4
ORDER BY id
LIMIT $5;
