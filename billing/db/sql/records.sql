-- name: upsert_record
-- A new day is inserted; a day whose figures changed is restated (revision + 1); an unchanged
-- day is left alone and returns no row.
INSERT INTO charge_records AS r
    (vehicle_id, employee_id, charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh,
     raw, source, request_id, fetched_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (vehicle_id, charge_date) DO UPDATE SET
    home_kwh = EXCLUDED.home_kwh,
    other_kwh = EXCLUDED.other_kwh,
    supercharger_kwh = EXCLUDED.supercharger_kwh,
    total_kwh = EXCLUDED.total_kwh,
    raw = EXCLUDED.raw,
    source = EXCLUDED.source,
    request_id = EXCLUDED.request_id,
    fetched_at = EXCLUDED.fetched_at,
    revision = r.revision + 1,
    updated_at = now()
WHERE (r.home_kwh, r.other_kwh, r.supercharger_kwh, r.total_kwh)
      IS DISTINCT FROM (EXCLUDED.home_kwh, EXCLUDED.other_kwh, EXCLUDED.supercharger_kwh,
                        EXCLUDED.total_kwh)
RETURNING r.id, r.revision, r.charge_date, r.home_kwh, (r.xmax = 0) AS inserted;

-- name: previous_figures
SELECT id, charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh, revision
FROM charge_records WHERE vehicle_id = $1 AND charge_date = ANY($2::date[]);

-- name: recent_days
SELECT charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh, flags
FROM charge_records
WHERE vehicle_id = $1 AND charge_date BETWEEN $2 AND $3
ORDER BY charge_date;

-- name: set_flags
UPDATE charge_records SET flags = $3
WHERE vehicle_id = $1 AND charge_date = $2 AND flags IS DISTINCT FROM $3;

-- name: share_fleet
-- Pricing reads the fleet's tariffs: hold off tariff changes (which take this row exclusively)
-- until the records and their lines are written.
SELECT 1 FROM fleets WHERE id = $1 FOR SHARE;
