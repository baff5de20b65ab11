-- name: set_flags
-- Many days of one vehicle at once: $2 the days, $3 each day's flags as a JSON array of text.
UPDATE charge_records AS r
SET flags = f.flags
FROM unnest($2::date[], $3::text[]) AS u(charge_date, flags_json),
     LATERAL (SELECT ARRAY(SELECT e FROM jsonb_array_elements_text(u.flags_json::jsonb)
                                  WITH ORDINALITY AS x(e, n) ORDER BY n)::text[] AS flags) f
WHERE r.vehicle_id = $1 AND r.charge_date = u.charge_date AND r.flags IS DISTINCT FROM f.flags;

-- name: store_days
-- In one statement: a share lock on the fleet (pricing reads its tariffs, so tariff changes,
-- which take this row exclusively, wait until the records and their lines are written), the
-- days' previous figures and flags ($13 … $14: the days and the plausibility checks' context
-- before them) and the upsert of the days. Rows with `written` are the days inserted or
-- restated (with what pricing reads of them), the others the days as they were before.
WITH fleet AS MATERIALIZED (
    SELECT id FROM fleets WHERE id = $12 FOR SHARE
),
before AS MATERIALIZED (
    SELECT id, charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh, revision, flags
    FROM charge_records
    WHERE vehicle_id = $1 AND charge_date BETWEEN $13 AND $14
),
written AS (
    INSERT INTO charge_records AS r
        (vehicle_id, employee_id, charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh,
         raw, source, request_id, fetched_at)
    SELECT $1, $2, d.charge_date, d.home_kwh, d.other_kwh, d.supercharger_kwh, d.total_kwh,
           d.raw::jsonb, $8, $9, $10
    FROM fleet,
         unnest($3::date[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
                $11::text[]) WITH ORDINALITY
         AS d(charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh, raw, n)
    ORDER BY d.n
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
    RETURNING r.id, r.revision, r.charge_date, r.home_kwh, (r.xmax = 0) AS inserted,
              r.request_id, r.fetched_at, r.source
)
SELECT true AS written, id, charge_date, home_kwh, NULL::numeric AS other_kwh,
       NULL::numeric AS supercharger_kwh, NULL::numeric AS total_kwh, revision,
       NULL::text[] AS flags, inserted, request_id, fetched_at, source
FROM written
UNION ALL
SELECT false, id, charge_date, home_kwh, other_kwh, supercharger_kwh, total_kwh, revision, flags,
       NULL, NULL, NULL, NULL
FROM before;
