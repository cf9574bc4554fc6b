-- crime_map.sql: what the analyst's map reads (issue 21, item 3): the
-- heat, the hotspot grid with Getis-Ord Gi*, the day-of-week x hour table,
-- the trend against the previous period, and the records of a cell or an
-- area. Every read is audited as a consultation (DPA 2018 s.62:
-- view_crime_picture, view_crime_records). The broker reaches them through
-- tocsin_crime_api (POST /api/crime/<view>, broker/doors/crime_api.c).
--
-- Who sees what (docs/security.md, "The crime picture"): the force
-- (controller, analyst) sees every record. A company operator sees the
-- surroundings of the sites its company guards (within
-- tocsin_crime_company_reach_m of them) at a coarser grain: grid cells of
-- at least 250 m, heat by cell rather than by point, and as records only
-- police.uk's (public) and its own company's. Nobody else reads it.

CREATE OR REPLACE FUNCTION tocsin_crime_company_reach_m() RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$ SELECT 1000.0::double precision $$;

-- The filter of a request, checked and completed: from and to (dates,
-- to exclusive; default the last 365 days), categories (codes; none: all),
-- cell_m (the grid's cell, 50 to 2,000 m, default 200; at least 250 for a
-- company), area (a drawn area), cell ([i, j] of the grid: one cell's
-- records). TS422 names the field.
CREATE OR REPLACE FUNCTION tocsin_crime_filter(u users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_from  date;
    v_to    date;
    v_cell  integer := 200;
    v_cats  text[];
    v_bad   text;
BEGIN
    IF jsonb_typeof(p_args) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the body must be a JSON object' USING ERRCODE = 'TS422';
    END IF;
    -- a pattern first: PostgreSQL also reads 'yesterday' and 'epoch' as dates
    BEGIN
        IF p_args->>'to' !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
           OR p_args->>'from' !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
            RAISE invalid_datetime_format;
        END IF;
        v_to := COALESCE((p_args->>'to')::date, current_date + 1);
        v_from := COALESCE((p_args->>'from')::date, v_to - 365);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'from and to must be dates (YYYY-MM-DD)' USING ERRCODE = 'TS422',
            COLUMN = 'from';
    END;
    IF v_from >= v_to OR v_to - v_from > 3660 THEN
        RAISE EXCEPTION 'from must be before to, at most ten years apart'
            USING ERRCODE = 'TS422', COLUMN = 'from';
    END IF;
    IF p_args ? 'cell_m' THEN
        IF jsonb_typeof(p_args->'cell_m') IS DISTINCT FROM 'number'
           OR (p_args->>'cell_m')::numeric NOT BETWEEN 50 AND 2000 THEN
            RAISE EXCEPTION 'cell_m must be a number of metres from 50 to 2000'
                USING ERRCODE = 'TS422', COLUMN = 'cell_m';
        END IF;
        v_cell := round((p_args->>'cell_m')::numeric);
    END IF;
    IF u.role = 'company_operator' THEN
        v_cell := greatest(v_cell, 250);
    END IF;
    IF p_args ? 'categories' THEN
        IF jsonb_typeof(p_args->'categories') IS DISTINCT FROM 'array' THEN
            RAISE EXCEPTION 'categories must be an array of category codes'
                USING ERRCODE = 'TS422', COLUMN = 'categories';
        END IF;
        SELECT array_agg(e) FILTER (WHERE c.code IS NOT NULL),
               min(e) FILTER (WHERE c.code IS NULL)
          INTO v_cats, v_bad
          FROM jsonb_array_elements_text(p_args->'categories') e
          LEFT JOIN crime_categories c ON c.code = e;
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'no crime category "%"', v_bad USING ERRCODE = 'TS422',
                COLUMN = 'categories';
        END IF;
    END IF;
    IF p_args ? 'cell' AND (jsonb_typeof(p_args->'cell') IS DISTINCT FROM 'array'
                            OR jsonb_array_length(p_args->'cell') <> 2
                            OR jsonb_typeof(p_args->'cell'->0) <> 'number'
                            OR jsonb_typeof(p_args->'cell'->1) <> 'number') THEN
        RAISE EXCEPTION 'cell must be [i, j] of the grid' USING ERRCODE = 'TS422',
            COLUMN = 'cell';
    END IF;
    PERFORM tocsin_area_geom(p_args->'area');
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'from', v_from, 'to', v_to, 'categories', to_jsonb(v_cats), 'cell_m', v_cell,
        'area', p_args->'area', 'cell', p_args->'cell'));
END
$$;

-- Where a reader may look: NULL (everywhere) for the force, the
-- surroundings of its company's sites for a company operator (WGS 84).
CREATE OR REPLACE FUNCTION tocsin_crime_reach(u users)
RETURNS geometry
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN u.role = 'company_operator' THEN
        COALESCE((SELECT ST_Union(ST_Buffer(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography,
                                            tocsin_crime_company_reach_m())::geometry)
                    FROM sites s WHERE s.guard_org_id = u.org_id AND NOT s.disabled),
                 'SRID=4326;POLYGON EMPTY'::geometry)
    END;
$$;

-- What a request selects, once, as plain values: the period (London
-- days), the categories, the drawn area, one cell's square (British
-- National Grid metres), the reader's reach and, for a company, its
-- organisation (records-level: police.uk's and its own only). Built once
-- per request so that the scan below compares plain values per row rather
-- than reading the jsonb filter (a generic plan would, on every row).
CREATE OR REPLACE FUNCTION tocsin_crime_scope(u users, f jsonb,
    OUT s_from timestamptz, OUT s_to timestamptz, OUT s_prev timestamptz,
    OUT s_cats text[], OUT s_area geometry, OUT s_cell integer,
    OUT s_x0 double precision, OUT s_y0 double precision, OUT s_reach geometry,
    OUT s_org integer)
LANGUAGE sql STABLE AS $$
    SELECT d.f0::timestamp AT TIME ZONE 'Europe/London',
           d.t0::timestamp AT TIME ZONE 'Europe/London',
           (d.f0 - (d.t0 - d.f0))::timestamp AT TIME ZONE 'Europe/London',
           CASE WHEN f ? 'categories' THEN ARRAY(SELECT jsonb_array_elements_text(f->'categories')) END,
           tocsin_area_geom(f->'area'), (f->>'cell_m')::integer,
           (f->'cell'->>0)::float8 * (f->>'cell_m')::float8,
           (f->'cell'->>1)::float8 * (f->>'cell_m')::float8,
           tocsin_crime_reach(u),
           CASE WHEN u.role = 'company_operator' THEN u.org_id END
      FROM (SELECT (f->>'from')::date AS f0, (f->>'to')::date AS t0) d;
$$;

-- The records of a scope (tocsin_crime_scope's values) in [p_from, p_to)
-- (p_records: a records-level view, where a company sees police.uk's and
-- its own only). A SQL function, inlined into its callers' plans.
CREATE OR REPLACE FUNCTION tocsin_crime_selected(p_from timestamptz, p_to timestamptz,
    p_cats text[], p_area geometry, p_cell integer, p_x0 double precision,
    p_y0 double precision, p_reach geometry, p_org integer, p_records boolean)
RETURNS SETOF crime_records
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM crime_records c
     WHERE c.at >= p_from AND c.at < p_to
       AND (p_cats IS NULL OR c.category = ANY (p_cats))
       AND (p_area IS NULL OR ST_Covers(p_area, c.geom))
       AND (p_x0 IS NULL OR (c.x >= p_x0 AND c.x < p_x0 + p_cell
                             AND c.y >= p_y0 AND c.y < p_y0 + p_cell))
       AND (p_reach IS NULL OR (ST_Covers(p_reach, c.geom)
                                AND (NOT p_records OR c.source = 'police_uk'
                                     OR c.org_id = p_org)));
$$;

-- The two-sided p-value of a standard normal z: 2 Q(|z|), with Q from
-- Abramowitz and Stegun 26.2.17 (absolute error under 7.5e-8): PostgreSQL
-- 15 has no erf.
CREATE OR REPLACE FUNCTION tocsin_normal_p2(z double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT least(1.0, 2 * exp(-x * x / 2) / sqrt(2 * pi())
                 * t * (0.319381530 + t * (-0.356563782 + t * (1.781477937
                   + t * (-1.821255978 + t * 1.330274429)))))
      FROM (SELECT abs(z) AS x, 1 / (1 + 0.2316419 * abs(z)) AS t) a;
$$;

-- The hotspot grid: square cells of p_cell metres (British National
-- Grid) over the extent of the counted cells (p_i, p_j, p_n: a cell's
-- indices, floor(x / p_cell), and its count), every cell of it (empty ones
-- too: they are the study area Gi* compares against), with Getis-Ord Gi*
-- on binary weights over the cell and its 8 neighbours:
--   Gi* = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))
-- with W_i the neighbours inside the grid (w binary, so sum w^2 = W_i),
-- xbar and S the mean and standard deviation of all n cells. Returns the
-- cells with a record or |z| >= 1.96, hottest first, each with i, j, its
-- count, z, the two-sided p and its corners in [lat, lon].
CREATE OR REPLACE FUNCTION tocsin_crime_grid(p_i integer[], p_j integer[], p_n integer[],
                                             p_cell integer)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH counts AS (
        SELECT c.i, c.j, c.n::float8 AS x FROM unnest(p_i, p_j, p_n) AS c(i, j, n)),
    ext AS (SELECT min(i) AS i0, max(i) AS i1, min(j) AS j0, max(j) AS j1 FROM counts),
    cells AS (
        SELECT gi.i, gj.j, COALESCE(c.x, 0) AS x
          FROM ext, generate_series(ext.i0, ext.i1) gi(i)
          CROSS JOIN LATERAL generate_series(ext.j0, ext.j1) gj(j)
          LEFT JOIN counts c ON c.i = gi.i AND c.j = gj.j),
    stats AS (
        SELECT count(*)::float8 AS n, avg(x) AS xbar,
               sqrt(greatest(avg(x * x) - avg(x) ^ 2, 0)) AS s FROM cells),
    nb AS (
        SELECT a.i, a.j, a.x, sum(b.x) AS sx, count(*)::float8 AS w
          FROM cells a
          CROSS JOIN (VALUES (-1), (0), (1)) di(d)
          CROSS JOIN (VALUES (-1), (0), (1)) dj(d)
          JOIN cells b ON b.i = a.i + di.d AND b.j = a.j + dj.d
         GROUP BY a.i, a.j, a.x),
    z AS (
        SELECT nb.*, CASE WHEN st.s > 0 AND st.n > 1 AND st.n * nb.w - nb.w * nb.w > 0
                          THEN (nb.sx - st.xbar * nb.w)
                               / (st.s * sqrt((st.n * nb.w - nb.w * nb.w) / (st.n - 1))) END AS z
          FROM nb, stats st)
    SELECT jsonb_build_object(
        'cell_m', p_cell,
        'n', (SELECT n FROM stats), 'mean', (SELECT xbar FROM stats), 'sd', (SELECT s FROM stats),
        'cells', COALESCE(jsonb_agg(jsonb_build_object(
            'i', z.i, 'j', z.j, 'count', z.x::integer, 'z', round(z.z::numeric, 4),
            'p', round(tocsin_normal_p2(z.z)::numeric, 6),
            'corners', (SELECT jsonb_agg(jsonb_build_array(round(ST_Y(pt.geom)::numeric, 6),
                                                           round(ST_X(pt.geom)::numeric, 6))
                                         ORDER BY pt.path)
                          FROM ST_DumpPoints(ST_Transform(ST_MakeEnvelope(
                                   z.i * p_cell, z.j * p_cell, (z.i + 1) * p_cell,
                                   (z.j + 1) * p_cell, 27700), 4326)) pt))
            ORDER BY z.z DESC NULLS LAST, z.i, z.j), '[]'::jsonb))
      FROM z WHERE z.x > 0 OR abs(z.z) >= 1.96;
$$;

-- A point of British National Grid metres as [lat, lon].
CREATE OR REPLACE FUNCTION tocsin_crime_latlon(p_x double precision, p_y double precision)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT jsonb_build_array(round(ST_Y(g)::numeric, 6), round(ST_X(g)::numeric, 6))
      FROM ST_Transform(ST_SetSRID(ST_MakePoint(p_x, p_y), 27700), 4326) AS g;
$$;

-- The picture's groups, read from the records of a scope (s: tocsin_crime_scope's values): one scan
-- of the records over this period and the one before, grouped four ways
-- at once (GROUPING SETS): kind 'cell' by grid cell (p_cell metres),
-- 'heat' by heat point (p_heat metres: the record's point to the metre;
-- a company's by cell), 'time' by London day of week and hour (records
-- with a time, this period), 'trend' by category; cur: this period.
CREATE OR REPLACE FUNCTION tocsin_crime_groups_scanned(p_from timestamptz, p_to timestamptz,
    p_prev timestamptz, p_cats text[], p_area geometry, p_cell integer, p_x0 double precision,
    p_y0 double precision, p_reach geometry, p_org integer, p_heat double precision)
RETURNS TABLE (kind text, cur boolean, ci integer, cj integer, hi integer, hj integer,
               dow integer, hr integer, category text, n integer)
LANGUAGE sql STABLE AS $$
    SELECT CASE GROUPING(r.ci, r.cj, r.hi, r.hj, r.hour, r.category)
           -- GROUPING's bits, 1 for each argument the set does not group
           -- by, the first argument the highest
           WHEN 15 THEN 'cell' WHEN 51 THEN 'heat' WHEN 61 THEN 'time' ELSE 'trend' END,
           r.cur, r.ci, r.cj, r.hi, r.hj,
           extract(isodow FROM r.hour AT TIME ZONE 'Europe/London')::integer,
           extract(hour FROM r.hour AT TIME ZONE 'Europe/London')::integer,
           r.category, count(*)::integer
      FROM (SELECT c.category, c.at >= p_from AS cur,
                   floor(c.x / p_cell)::integer AS ci, floor(c.y / p_cell)::integer AS cj,
                   floor(c.x / p_heat)::integer AS hi, floor(c.y / p_heat)::integer AS hj,
                   -- the hour, to London time afterwards, per group
                   CASE WHEN c.at_precision = 'minute' THEN date_trunc('hour', c.at) END AS hour
              FROM tocsin_crime_selected(p_prev, p_to, p_cats, p_area, p_cell, p_x0, p_y0, p_reach,
                                         p_org, false) c) r
     GROUP BY GROUPING SETS ((r.cur, r.ci, r.cj), (r.cur, r.hi, r.hj), (r.cur, r.hour),
                             (r.cur, r.category));
$$;

-- The same groups for the force's picture of the whole area (no reach,
-- area or cell), from the counts kept per London month
-- (062_crime_picture_counts.sql): the months of [p_prev_d, p_to_d) that
-- lie whole in this period or the previous one are summed from
-- crime_picture_places and crime_picture_times; of the days left at the
-- edges (at most three partial months), the records with a month only
-- come from the places' day rows and those with a time from the records.
-- The bench's year: 30,000 count rows and 9,000 records instead of
-- 492,475 records.
CREATE OR REPLACE FUNCTION tocsin_crime_groups_summed(p_prev_d date, p_from_d date, p_to_d date,
    p_cats text[], p_cell integer, p_heat double precision)
RETURNS TABLE (kind text, cur boolean, ci integer, cj integer, hi integer, hj integer,
               dow integer, hr integer, category text, n integer)
LANGUAGE sql STABLE AS $$
    WITH months AS (
        SELECT m::date AS month
          FROM generate_series(date_trunc('month', p_prev_d), p_to_d, interval '1 month') m
         WHERE (m >= p_prev_d AND m + interval '1 month' <= p_from_d)
            OR (m >= p_from_d AND m + interval '1 month' <= p_to_d)),
    edges AS (
        SELECT lower(e) AS d0, upper(e) AS d1
          FROM unnest(datemultirange(daterange(p_prev_d, p_to_d))
                      - (SELECT COALESCE(range_agg(daterange(month, (month + interval '1 month')::date)),
                                         '{}') FROM months)) e),
    raw AS (
        SELECT c.at >= p_from_d::timestamp AT TIME ZONE 'Europe/London' AS cur,
               c.category, c.x, c.y, c.at
          FROM edges e
          JOIN crime_records c ON c.at >= e.d0::timestamp AT TIME ZONE 'Europe/London'
                              AND c.at < e.d1::timestamp AT TIME ZONE 'Europe/London'
         WHERE c.at_precision = 'minute' AND (p_cats IS NULL OR c.category = ANY (p_cats))),
    places AS (
        SELECT p.day >= p_from_d AS cur, p.category, p.x, p.y, p.n
          FROM crime_picture_places p
         WHERE (p.month IN (SELECT month FROM months)
                OR (NOT p.timed AND EXISTS (SELECT 1 FROM edges e WHERE p.day >= e.d0 AND p.day < e.d1)))
           AND (p_cats IS NULL OR p.category = ANY (p_cats))
        UNION ALL
        SELECT r.cur, r.category, r.x, r.y, 1 FROM raw r),
    times AS (
        SELECT t.dow::integer AS dow, t.hr::integer AS hr, t.n
          FROM crime_picture_times t
         WHERE t.month IN (SELECT month FROM months) AND t.month >= p_from_d
           AND (p_cats IS NULL OR t.category = ANY (p_cats))
        UNION ALL
        SELECT extract(isodow FROM r.at AT TIME ZONE 'Europe/London')::integer,
               extract(hour FROM r.at AT TIME ZONE 'Europe/London')::integer, 1
          FROM raw r WHERE r.cur)
    SELECT CASE GROUPING(q.ci, q.cj, q.hi, q.hj, q.category)
           WHEN 7 THEN 'cell' WHEN 25 THEN 'heat' ELSE 'trend' END,
           q.cur, q.ci, q.cj, q.hi, q.hj, NULL::integer, NULL::integer, q.category,
           sum(q.n)::integer
      FROM (SELECT p.cur, p.category, p.n,
                   floor(p.x / p_cell)::integer AS ci, floor(p.y / p_cell)::integer AS cj,
                   floor(p.x / p_heat)::integer AS hi, floor(p.y / p_heat)::integer AS hj
              FROM places p) q
     GROUP BY GROUPING SETS ((q.cur, q.ci, q.cj), (q.cur, q.hi, q.hj), (q.cur, q.category))
    UNION ALL
    SELECT 'time', true, NULL, NULL, NULL, NULL, t.dow, t.hr, NULL, sum(t.n)::integer
      FROM times t GROUP BY t.dow, t.hr;
$$;

-- The picture for reader u and filter f (checked by tocsin_crime_filter):
-- its groups (summed from the counts for the force's whole area, else
-- scanned: p_scan forces the scan, for the test that holds the two
-- equal) assembled into the grid with Gi*, the heat, the day-of-week x
-- hour table and the trend against the previous period.
CREATE OR REPLACE FUNCTION tocsin_crime_picture_of(u users, f jsonb, p_scan boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s       record;
    v_cell  integer := (f->>'cell_m')::integer;
    v_heat  double precision := CASE WHEN u.role = 'company_operator' THEN v_cell ELSE 1 END;
    v_summed  boolean;
    v       jsonb;
BEGIN
    SELECT * INTO s FROM tocsin_crime_scope(u, f);
    v_summed := s.s_reach IS NULL AND s.s_area IS NULL AND s.s_x0 IS NULL AND NOT p_scan;
    WITH grp AS (
        SELECT * FROM tocsin_crime_groups_summed((s.s_prev AT TIME ZONE 'Europe/London')::date,
                          (f->>'from')::date, (f->>'to')::date, s.s_cats, v_cell, v_heat)
         WHERE v_summed
        UNION ALL
        SELECT * FROM tocsin_crime_groups_scanned(s.s_from, s.s_to, s.s_prev, s.s_cats, s.s_area,
                          v_cell, s.s_x0, s.s_y0, s.s_reach, s.s_org, v_heat)
         WHERE NOT v_summed),
    cell AS (SELECT * FROM grp WHERE cur AND kind = 'cell'),
    heat AS (SELECT * FROM grp WHERE cur AND kind = 'heat'),
    times AS (SELECT dow, hr, sum(n) AS n FROM grp
               WHERE cur AND kind = 'time' AND dow IS NOT NULL GROUP BY 1, 2),
    trend AS (SELECT category, COALESCE(sum(n) FILTER (WHERE cur), 0) AS now,
                     COALESCE(sum(n) FILTER (WHERE NOT cur), 0) AS before
                FROM grp WHERE kind = 'trend' GROUP BY category)
    SELECT jsonb_build_object(
        'records', (SELECT COALESCE(sum(n), 0) FROM cell),
        'heat', (SELECT COALESCE(jsonb_agg(tocsin_crime_latlon((hi + 0.5) * v_heat, (hj + 0.5) * v_heat)
                                           || to_jsonb(n) ORDER BY hi, hj), '[]') FROM heat),
        'grid', (SELECT tocsin_crime_grid(COALESCE(array_agg(ci), '{}'), COALESCE(array_agg(cj), '{}'),
                                          COALESCE(array_agg(n), '{}'), v_cell) FROM cell),
        'times', (SELECT jsonb_build_object('timed', COALESCE(sum(n), 0),
                                            'cells', COALESCE(jsonb_agg(jsonb_build_array(dow, hr, n)
                                                                        ORDER BY dow, hr), '[]'))
                    FROM times),
        'trend', (SELECT jsonb_build_object('current', COALESCE(sum(now), 0),
                                            'previous', COALESCE(sum(before), 0),
                                            'by_category', COALESCE(jsonb_object_agg(category,
                                                jsonb_build_array(now, before)), '{}'))
                    FROM trend))
      INTO v;
    RETURN v || jsonb_build_object(
        'filter', f,
        'previous', jsonb_build_object('from', (s.s_prev AT TIME ZONE 'Europe/London')::date,
                                       'to', f->'from'));
END
$$;

-- The records of a cell or an area (at most 500, newest first), for the
-- map's clustered markers: the force sees every field, a company police.uk
-- rows and its own (tocsin_crime_selected).
CREATE OR REPLACE FUNCTION tocsin_crime_records_of(u users, f jsonb)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('records', COALESCE(jsonb_agg(r ORDER BY r->>'at' DESC), '[]'::jsonb))
      FROM tocsin_crime_scope(u, f) s,
           LATERAL (SELECT jsonb_strip_nulls(jsonb_build_object(
                       'id', c.id, 'source', c.source, 'category', c.category,
                       'at', c.at, 'at_precision', c.at_precision,
                       'lat', round(ST_Y(c.geom)::numeric, 6), 'lon', round(ST_X(c.geom)::numeric, 6),
                       'location', c.location, 'outcome', c.outcome,
                       'property_kind', c.property_kind, 'property_make', c.property_make,
                       'property_model', c.property_model, 'property_status', c.property_status,
                       'image', c.image_id,
                       'org', (SELECT o.name FROM organisations o WHERE o.id = c.org_id),
                       'note', c.note)) AS r
              FROM tocsin_crime_selected(s.s_from, s.s_to, s.s_cats, s.s_area, s.s_cell, s.s_x0,
                                         s.s_y0, s.s_reach, s.s_org, true) c
             ORDER BY c.at DESC, c.id DESC
             LIMIT 500) x;
$$;

-- POST /api/crime/<view> (broker/doors/crime_api.c): view 'picture' or
-- 'records', for the token's user, audited as a consultation with the
-- filter. status: 'ok' (body the answer), 'revoked' (the token),
-- 'not_found' (no such view); a refusal raises TS403, bad input TS422.
CREATE OR REPLACE FUNCTION tocsin_crime_api(p_user_id integer, p_iat bigint, p_remote text,
                                            p_view text, p_args jsonb)
RETURNS TABLE (status text, body jsonb)
-- No JIT (as for the broker's role, sql/schema/01_roles.sql): the grid's
-- generate_series are estimated at 1,000 rows each, which passes every JIT
-- threshold; compiling took 470 ms of a 530 ms picture of the sample
-- when run as a superuser (jit on); the whole picture takes 57-100 ms
-- without.
-- work_mem: the picture's four hash tables over a year of 500,000
-- records (the bench) took 5.7 MB; at the default 4 MB PostgreSQL sorted
-- on disk instead, 6.0 s against 1.7 s on the loaded bench machine.
LANGUAGE plpgsql SET jit = off SET work_mem = '32MB' AS $$
DECLARE
    v  text;
    u  users%ROWTYPE;
    f  jsonb;
    b  jsonb;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user_id, p_iat) c;
    IF v <> 'ok' THEN
        RETURN QUERY SELECT 'revoked'::text, NULL::jsonb;
        RETURN;
    END IF;
    IF p_view NOT IN ('picture', 'records', 'trail') THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
        RETURN;
    END IF;
    -- an enabled controller, analyst or company operator; TS403 for anyone else
    u := tocsin_status_user(p_user_id, '{controller,analyst,company_operator}',
                            'read the crime picture');
    IF p_view = 'trail' THEN
        RETURN QUERY SELECT 'ok'::text, tocsin_crime_trail_api(u, p_args, p_remote);
        RETURN;
    END IF;
    f := tocsin_crime_filter(u, p_args);
    b := CASE p_view WHEN 'picture' THEN tocsin_crime_picture_of(u, f)
                     ELSE tocsin_crime_records_of(u, f) END;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_crime_' || p_view, u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('filter', f, 'records',
                               CASE WHEN jsonb_typeof(b->'records') = 'array'
                                    THEN to_jsonb(jsonb_array_length(b->'records'))
                                    ELSE b->'records' END)
            -- which records were shown, for a subject's s.62 question
            || CASE WHEN p_view = 'records' THEN jsonb_build_object('record_ids',
                   (SELECT jsonb_agg(r->'id') FROM jsonb_array_elements(b->'records') r)) ELSE '{}' END);
    RETURN QUERY SELECT 'ok'::text, b;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_crime_company_reach_m(),
    tocsin_crime_filter(users, jsonb),
    tocsin_crime_reach(users),
    tocsin_crime_scope(users, jsonb),
    tocsin_crime_selected(timestamptz, timestamptz, text[], geometry, integer, double precision,
                          double precision, geometry, integer, boolean),
    tocsin_normal_p2(double precision),
    tocsin_crime_grid(integer[], integer[], integer[], integer),
    tocsin_crime_latlon(double precision, double precision),
    tocsin_crime_groups_scanned(timestamptz, timestamptz, timestamptz, text[], geometry, integer,
                                double precision, double precision, geometry, integer,
                                double precision),
    tocsin_crime_groups_summed(date, date, date, text[], integer, double precision),
    tocsin_crime_picture_of(users, jsonb, boolean),
    tocsin_crime_records_of(users, jsonb),
    tocsin_crime_api(integer, bigint, text, text, jsonb)
    TO tocsin_broker;
