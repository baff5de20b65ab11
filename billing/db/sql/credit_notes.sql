-- name: insert_credit_note
INSERT INTO credit_notes (id, fleet_id, employee_id, statement_id, number, currency, total,
                          reason, created_by, snapshot, snapshot_sha256, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING id;

-- name: insert_credit_line
INSERT INTO credit_note_lines (credit_note_id, line_item_id, amount) VALUES ($1, $2, $3);

-- name: credited_per_line
SELECT cl.line_item_id, sum(cl.amount) AS amount
FROM credit_note_lines cl JOIN credit_notes c ON c.id = cl.credit_note_id
WHERE c.statement_id = $1
GROUP BY cl.line_item_id;

-- name: get_credit_note
SELECT c.*, s.number AS statement_number,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('line_item_id', cl.line_item_id,
                                                  'amount', cl.amount)
                               ORDER BY cl.line_item_id), '[]')
     FROM credit_note_lines cl WHERE cl.credit_note_id = c.id) AS lines
FROM credit_notes c JOIN statements s ON s.id = c.statement_id
WHERE c.id = $1;

-- name: list_credit_notes
SELECT c.*, s.number AS statement_number,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('line_item_id', cl.line_item_id,
                                                  'amount', cl.amount)
                               ORDER BY cl.line_item_id), '[]')
     FROM credit_note_lines cl WHERE cl.credit_note_id = c.id) AS lines
FROM credit_notes c JOIN statements s ON s.id = c.statement_id
WHERE ($1::uuid IS NULL OR c.fleet_id = $1)
  AND ($2::uuid IS NULL OR c.employee_id = $2)
  AND ($3::uuid IS NULL OR c.statement_id = $3)
  AND ($4::timestamptz IS NULL OR (c.created_at, c.id) > ($4, $5::uuid))
ORDER BY c.created_at, c.id
LIMIT $6;

-- name: get_credit_note_snapshot
SELECT snapshot FROM credit_notes WHERE id = $1;
