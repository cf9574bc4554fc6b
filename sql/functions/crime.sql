-- crime.sql: the crime picture (issue 21; the tables are in
-- sql/migrations/047_crime_records.sql): the police.uk import, and what
-- the analyst's map reads (crime_map.sql would split it if it grows).

-- The columns of a police.uk street-level CSV, in its order, as text, with
-- the file's line number: tocsinctl crime import COPYs the file into this
-- table in the transaction that imports it (ON COMMIT DROP), and
-- tocsin_admin_crime_import checks and applies it. Not SECURITY DEFINER:
-- the table belongs to the importing session's role, which COPYs into it.
CREATE OR REPLACE FUNCTION tocsin_crime_import_begin()
RETURNS void
LANGUAGE sql AS $$
    CREATE TEMP TABLE crime_import_in (
        line          integer NOT NULL,
        crime_id      text,
        month         text,
        reported_by   text,
        falls_within  text,
        lon           text,
        lat           text,
        location      text,
        lsoa_code     text,
        lsoa_name     text,
        crime_type    text,
        outcome       text,
        context       text
    ) ON COMMIT DROP;
$$;

-- A coordinate as the CSV writes it (-0.107682): a decimal number of at
-- most p_max in size, or NULL (no location). CASE, not OR: the cast must
-- not see what the pattern refused.
CREATE OR REPLACE FUNCTION tocsin_crime_coordinate_ok(p_v text, p_max numeric)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_v IS NULL THEN true
                WHEN p_v !~ '^-?[0-9]{1,3}(\.[0-9]{1,12})?$' THEN false
                ELSE abs(p_v::numeric) <= p_max END;
$$;

-- The first bad row of crime_import_in, as an exception naming its line
-- and column (TS422): coordinates that are not numbers or not on Earth,
-- a month that is not YYYY-MM or is after the current one, a crime type
-- police.uk does not have. Rows without coordinates (police.uk publishes
-- some: no location recorded) are not errors; the import skips them.
CREATE OR REPLACE FUNCTION tocsin_crime_import_check()
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT x.line, x.why INTO r
      FROM (SELECT i.line, CASE
              WHEN i.month IS NULL OR i.month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$'
                  THEN 'month|the month must be YYYY-MM, not "' || coalesce(i.month, '') || '"'
              WHEN to_date(i.month, 'YYYY-MM') > date_trunc('month', now())
                  THEN 'month|the month ' || i.month || ' is in the future'
              WHEN (i.lon IS NULL) <> (i.lat IS NULL)
                  THEN 'longitude|a row needs both longitude and latitude, or neither'
              WHEN NOT tocsin_crime_coordinate_ok(i.lon, 180)
                  THEN 'longitude|the longitude must be a number from -180 to 180, not "'
                       || i.lon || '"'
              WHEN NOT tocsin_crime_coordinate_ok(i.lat, 90)
                  THEN 'latitude|the latitude must be a number from -90 to 90, not "'
                       || i.lat || '"'
              WHEN NOT EXISTS (SELECT 1 FROM crime_categories c
                                WHERE c.police_uk AND c.name = i.crime_type)
                  THEN 'crime_type|"' || coalesce(i.crime_type, '')
                       || '" is not a police.uk crime type'
            END AS why
              FROM crime_import_in i) x
     WHERE x.why IS NOT NULL
     ORDER BY x.line
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'line %: %', r.line, split_part(r.why, '|', 2)
            USING ERRCODE = 'TS422', COLUMN = split_part(r.why, '|', 1);
    END IF;
END
$$;

-- tocsinctl crime import: applies crime_import_in (see
-- tocsin_crime_import_begin) in the caller's transaction. Each row gets
-- its import_key (047_crime_records.sql): a row already stored is left
-- alone, or has its outcome updated when the new download changed it; a
-- new row is added. One audit row (crime_records_added, a collection)
-- names the actor, the file and the counts.
CREATE OR REPLACE FUNCTION tocsin_admin_crime_import(p_actor text, p_file text)
RETURNS TABLE (rows_read integer, added integer, updated integer, unchanged integer,
               skipped_no_location integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor    text := tocsin_admin_actor(p_actor);
    v_read     integer;
    v_skipped  integer;
    v_added    integer;
    v_updated  integer;
BEGIN
    PERFORM tocsin_crime_import_check();
    SELECT count(*), count(*) FILTER (WHERE lon IS NULL) INTO v_read, v_skipped
      FROM crime_import_in;
    CREATE TEMP TABLE crime_import_keyed ON COMMIT DROP AS
    SELECT k.fp || '#' || row_number() OVER (PARTITION BY k.fp ORDER BY k.line) AS import_key,
           k.*
      FROM (SELECT md5(concat_ws('|', i.month, i.crime_id, i.lon, i.lat, i.location,
                                 i.lsoa_code, i.crime_type)) AS fp, i.*
              FROM crime_import_in i WHERE i.lon IS NOT NULL) k;
    WITH up AS (
        UPDATE crime_records c SET outcome = k.outcome, updated_at = now()
          FROM crime_import_keyed k
         WHERE c.import_key = k.import_key AND c.outcome IS DISTINCT FROM k.outcome
        RETURNING 1)
    SELECT count(*) INTO v_updated FROM up;
    WITH ins AS (
        INSERT INTO crime_records (source, category, at, at_precision, geom, location, outcome,
                                   police_crime_id, lsoa_code, import_key)
        SELECT 'police_uk', c.code, (k.month || '-01')::date::timestamp AT TIME ZONE 'Europe/London',
               'month', ST_SetSRID(ST_MakePoint(k.lon::float8, k.lat::float8), 4326), k.location,
               k.outcome, k.crime_id, k.lsoa_code, k.import_key
          FROM crime_import_keyed k
          JOIN crime_categories c ON c.police_uk AND c.name = k.crime_type
        ON CONFLICT (import_key) DO NOTHING
        RETURNING 1)
    SELECT count(*) INTO v_added FROM ins;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('crime_records_added', v_actor, 'tocsinctl',
            jsonb_build_object('source', 'police_uk', 'file', p_file, 'rows', v_read,
                               'added', v_added, 'updated', v_updated,
                               'skipped_no_location', v_skipped));
    RETURN QUERY SELECT v_read, v_added, v_updated, v_read - v_skipped - v_added - v_updated,
                        v_skipped;
END
$$;

REVOKE ALL ON FUNCTION tocsin_admin_crime_import(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_admin_crime_import(text, text) TO tocsin_admin;
GRANT EXECUTE ON FUNCTION tocsin_crime_import_begin(), tocsin_crime_import_check(),
    tocsin_crime_coordinate_ok(text, numeric) TO tocsin_admin;

-- The retention of crime records (broker/handle/crime_sweep.c): erases
-- at most p_limit records whose time is more than p_days days ago,
-- oldest first, and writes one audit row for them (crime_records_erased,
-- an erasure: the cut-off, the count by source, the ids erased) in the
-- same transaction. Returns the number erased. SECURITY DEFINER: the
-- broker's role may not delete crime records otherwise.
CREATE OR REPLACE FUNCTION tocsin_crime_erase_expired(p_days integer, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_cut  timestamptz := now() - make_interval(days => p_days);
    v      record;
BEGIN
    IF p_days IS NULL OR p_days < 1 OR p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'the retention and the batch must be positive' USING ERRCODE = 'TS422';
    END IF;
    WITH gone AS (
        DELETE FROM crime_records c
         WHERE c.id IN (SELECT id FROM crime_records WHERE at < v_cut ORDER BY at, id
                         LIMIT p_limit)
        RETURNING c.id, c.source)
    SELECT count(*)::integer AS n, jsonb_agg(id ORDER BY id) AS ids,
           (SELECT jsonb_object_agg(source, k) FROM (SELECT source, count(*) AS k FROM gone
                                                     GROUP BY source) s) AS by_source
      INTO v FROM gone;
    IF v.n > 0 THEN
        INSERT INTO audit (action, actor_username, actor_role, detail)
        VALUES ('crime_records_erased', 'tocsind', 'retention',
                jsonb_build_object('retention_days', p_days, 'before', v_cut, 'records', v.n,
                                   'by_source', v.by_source, 'record_ids', v.ids));
    END IF;
    RETURN v.n;
END
$$;

REVOKE ALL ON FUNCTION tocsin_crime_erase_expired(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_crime_erase_expired(integer, integer) TO tocsin_broker;
