-- name: list_line_items
-- The columns a LineItem shows (not the evidence, which only the detail view decodes).
SELECT id, fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kind,
       adjusts_id, kwh, unit_price, currency, amount, tariff_id, status, decided_by, decided_at,
       reason, version, statement_id, created_at, updated_at
FROM line_items
WHERE ($1::uuid IS NULL OR fleet_id = $1)
  AND ($2::uuid IS NULL OR employee_id = $2)
  AND ($3::uuid IS NULL OR vehicle_id = $3)
  AND ($4::text IS NULL OR status = $4)
  AND ($5::text IS NULL OR kind = $5)
  AND ($6::text IS NULL OR period = $6)
  AND ($7::timestamptz IS NULL OR (created_at, id) > ($7, $8::uuid))
  AND ($10::date IS NULL OR charge_date >= $10)
  AND ($11::date IS NULL OR charge_date <= $11)
ORDER BY created_at, id
LIMIT $9;

-- name: list_line_items_json
-- The page of list_line_items (same filters, order and limit) as the JSON text of its items,
-- each written exactly as the API renders a LineItem: the same keys in the same order, ids
-- and decimals as strings, the amount with the currency's minor units, kWh as Python writes
-- the Decimal (exponent notation below 0.000001, as in `1.2E-7` or `0E-7`), timestamps in
-- UTC with a Z and six digits of microseconds when there are any. The last row's key makes
-- the next cursor. Built here so a page is one text value, not 2,200 values to convert.
WITH page AS (
    SELECT id, fleet_id, employee_id, vehicle_id, charge_record_id, charge_date, period, kind,
           adjusts_id, kwh, unit_price, currency, amount, tariff_id, status, decided_by,
           decided_at, reason, version, statement_id, created_at, updated_at
    FROM line_items
    WHERE ($1::uuid IS NULL OR fleet_id = $1)
      AND ($2::uuid IS NULL OR employee_id = $2)
      AND ($3::uuid IS NULL OR vehicle_id = $3)
      AND ($4::text IS NULL OR status = $4)
      AND ($5::text IS NULL OR kind = $5)
      AND ($6::text IS NULL OR period = $6)
      AND ($7::timestamptz IS NULL OR (created_at, id) > ($7, $8::uuid))
      AND ($10::date IS NULL OR charge_date >= $10)
      AND ($11::date IS NULL OR charge_date <= $11)
    ORDER BY created_at, id
    LIMIT $9
), rendered AS (
    SELECT p.created_at, p.id, concat(
        '{"id":"', p.id,
        '","fleet_id":"', p.fleet_id,
        '","employee_id":"', p.employee_id,
        '","vehicle_id":"', p.vehicle_id,
        '","charge_record_id":"', p.charge_record_id,
        '","charge_date":', to_json(p.charge_date),
        ',"period":', to_json(p.period::text),
        ',"kind":', to_json(p.kind),
        ',"adjusts_id":', coalesce('"' || p.adjusts_id || '"', 'null'),
        ',"kwh":"', CASE
            WHEN abs(p.kwh) >= 0.000001 OR (p.kwh = 0 AND scale(p.kwh) < 7) THEN p.kwh::text
            WHEN p.kwh = 0 THEN '0E-' || scale(p.kwh)
            ELSE (SELECT CASE WHEN p.kwh < 0 THEN '-' ELSE '' END || left(d, 1)
                         || CASE WHEN length(d) > 1 THEN '.' || substr(d, 2) ELSE '' END
                         || 'E' || (length(d) - scale(p.kwh) - 1)
                  FROM (SELECT ltrim(replace(abs(p.kwh)::text, '.', ''), '0') AS d) AS digits)
        END,
        '","unit_price":"', p.unit_price,
        '","currency":', to_json(p.currency::text),
        ',"amount":"', round(p.amount, c.minor_unit),
        '","tariff_id":"', p.tariff_id,
        '","status":', to_json(p.status),
        ',"decided_by":', coalesce(to_json(p.decided_by)::text, 'null'),
        ',"decided_at":', coalesce('"' || to_char(p.decided_at AT TIME ZONE 'UTC',
            CASE WHEN extract(microseconds FROM p.decided_at) % 1000000 = 0
                 THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)
            || '"', 'null'),
        ',"reason":', coalesce(to_json(p.reason)::text, 'null'),
        ',"version":', p.version,
        ',"statement_id":', coalesce('"' || p.statement_id || '"', 'null'),
        ',"created_at":"', to_char(p.created_at AT TIME ZONE 'UTC',
            CASE WHEN extract(microseconds FROM p.created_at) % 1000000 = 0
                 THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END),
        '","updated_at":"', to_char(p.updated_at AT TIME ZONE 'UTC',
            CASE WHEN extract(microseconds FROM p.updated_at) % 1000000 = 0
                 THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END),
        '"}') AS item
    FROM page AS p JOIN currencies AS c ON c.code = p.currency
)
SELECT coalesce(string_agg(item, ',' ORDER BY created_at, id), '') AS items,
       count(*)::int AS count,
       max(created_at) AS last_created_at,
       (array_agg(id ORDER BY created_at DESC, id DESC))[1] AS last_id
FROM rendered;

-- name: get_line_item
SELECT * FROM line_items WHERE id = $1;

-- name: lock_line_items
-- In id order, so two bulk decisions over overlapping items cannot deadlock.
SELECT * FROM line_items WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: adjusted_among
SELECT DISTINCT adjusts_id FROM line_items WHERE adjusts_id = ANY($1::uuid[]);

-- name: decide_line_item
UPDATE line_items SET
    status = $2,
    decided_by = CASE WHEN $2 = 'pending' THEN NULL ELSE $3 END,
    decided_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
    reason = $4,
    version = version + 1,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: adjustment_chain
-- The original charge line (found by walking up adjusts_id) and every line adjusting it.
WITH RECURSIVE up AS (
    SELECT id, adjusts_id FROM line_items WHERE id = $1
    UNION
    SELECT l.id, l.adjusts_id FROM line_items l JOIN up ON l.id = up.adjusts_id
), chain AS (
    SELECT id FROM up WHERE adjusts_id IS NULL
    UNION
    SELECT l.id FROM line_items l JOIN chain ON l.adjusts_id = chain.id
)
SELECT l.* FROM line_items l JOIN chain USING (id)
ORDER BY l.created_at, l.id;

-- name: get_charge_record
SELECT * FROM charge_records WHERE id = $1;

-- name: list_charge_records
SELECT c.* FROM charge_records c JOIN vehicles v ON v.id = c.vehicle_id
WHERE ($1::uuid IS NULL OR v.fleet_id = $1)
  AND ($2::uuid IS NULL OR c.employee_id = $2)
  AND ($3::uuid IS NULL OR c.vehicle_id = $3)
  AND ($4::date IS NULL OR c.charge_date >= $4)
  AND ($5::date IS NULL OR c.charge_date <= $5)
  AND (NOT $6::boolean OR (c.home_kwh > 0 AND NOT EXISTS (
        SELECT 1 FROM line_items l WHERE l.charge_record_id = c.id AND l.kind = 'charge')))
  AND ($7::timestamptz IS NULL OR (c.created_at, c.id) > ($7, $8::uuid))
ORDER BY c.created_at, c.id
LIMIT $9;
