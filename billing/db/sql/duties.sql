-- name: made_by_person
-- Employee records and vehicle links that keys bound to employee $1 created: their money is
-- that person's own too (segregation of duties counts who made a record, not only its id).
SELECT entity, entity_id FROM audit_events
WHERE actor IN (SELECT 'api_key:' || prefix FROM api_keys WHERE employee_id = $1)
  AND ((entity = 'employee' AND action = 'create')
       OR (entity = 'vehicle' AND action IN ('create', 'link', 'relink')));
