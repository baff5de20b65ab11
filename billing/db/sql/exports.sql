-- name: lock_exports
-- One export of a fleet at a time: the second waits, then finds nothing left to export.
SELECT pg_advisory_xact_lock(hashtextextended('payroll-export:' || $1::uuid::text, 0));

-- name: unexported_statements
SELECT s.id, s.number, s.snapshot, s.total
FROM statements s
WHERE s.fleet_id = $1 AND s.status = 'finalized'
  AND NOT EXISTS (SELECT 1 FROM payroll_export_documents d WHERE d.statement_id = s.id)
ORDER BY s.number
FOR UPDATE OF s;

-- name: unexported_credit_notes
SELECT c.id, c.number, c.snapshot, c.total
FROM credit_notes c
WHERE c.fleet_id = $1
  AND NOT EXISTS (SELECT 1 FROM payroll_export_documents d WHERE d.credit_note_id = c.id)
ORDER BY c.number
FOR UPDATE OF c;

-- name: insert_export
INSERT INTO payroll_exports (fleet_id, format, documents, total, currency, content, sha256,
                             created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, fleet_id, format, documents, total, currency, sha256, created_by, created_at;

-- name: insert_export_statements
INSERT INTO payroll_export_documents (export_id, statement_id, amount)
SELECT $1, s.id, s.total FROM statements s WHERE s.id = ANY($2::uuid[]);

-- name: insert_export_credit_notes
INSERT INTO payroll_export_documents (export_id, credit_note_id, amount)
SELECT $1, c.id, c.total FROM credit_notes c WHERE c.id = ANY($2::uuid[]);

-- name: hand_over_statements
UPDATE statements SET handed_over_at = $2, updated_at = now()
WHERE id = ANY($1::uuid[]) AND handed_over_at IS NULL
RETURNING *, 0::numeric AS credited;

-- name: hand_over_credit_notes
UPDATE credit_notes SET handed_over_at = $2
WHERE id = ANY($1::uuid[]) AND handed_over_at IS NULL
RETURNING id, fleet_id, number;

-- name: get_export
SELECT id, fleet_id, format, documents, total, currency, sha256, created_by, created_at
FROM payroll_exports WHERE id = $1;

-- name: get_export_file
SELECT fleet_id, format, content, sha256 FROM payroll_exports WHERE id = $1;

-- name: list_exports
SELECT id, fleet_id, format, documents, total, currency, sha256, created_by, created_at
FROM payroll_exports
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
ORDER BY created_at, id
LIMIT $4;

-- name: get_pdf
SELECT content, sha256 FROM document_pdfs
WHERE statement_id IS NOT DISTINCT FROM $1 AND credit_note_id IS NOT DISTINCT FROM $2
  AND ($1::uuid IS NOT NULL OR $2::uuid IS NOT NULL);

-- name: insert_pdf
-- A concurrent first request may have stored it meanwhile: the first stored bytes win.
INSERT INTO document_pdfs (statement_id, credit_note_id, content, sha256)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: update_fleet_settings
UPDATE fleets SET locale = $2, statement_auto_finalize = $3, datev_consultant_number = $4,
    datev_client_number = $5, datev_wage_type = $6, updated_at = now()
WHERE id = $1
RETURNING *;
