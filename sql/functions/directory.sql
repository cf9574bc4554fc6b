-- directory.sql: where the sites are and who guards them, for targeting
-- and status (the tables are in sql/schema/02_directory.sql).

-- The directory the broker keeps in memory to resolve targets while the
-- database is away (degraded-mode targeting): each site's guarding company
-- and whether it is cleared for OFFICIAL-SENSITIVE.
CREATE OR REPLACE FUNCTION tocsin_site_guards()
RETURNS TABLE (site_id integer, guard_org_id integer, cleared boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, guard_org_id, cleared_sensitive FROM sites ORDER BY id;
$$;

-- Great-circle distance in metres (haversine, mean earth radius
-- 6,371,008.8 m). No PostGIS: at city scale this is exact enough.
CREATE OR REPLACE FUNCTION tocsin_distance_m(lat1 double precision, lon1 double precision,
                                             lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 2 * 6371008.8 * asin(least(1.0, sqrt(
               sin(radians(lat2 - lat1) / 2) ^ 2
             + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)));
$$;

-- tocsin_point_in_area: whether (lat, lon) lies inside an area as the
-- protocol writes it: {"circle":{"lat":…,"lon":…,"radius_m":…}} (distance
-- to the centre at most the radius) or {"polygon":[[lat,lon],…]} (closed,
-- at least 4 points; ray casting on lat/lon, fine at city scale, not across
-- the antimeridian; a point exactly on an edge may fall either way). Used
-- for report-now and alert targeting. A malformed area raises TS422 with
-- COLUMN 'area' rather than silently matching nothing.
CREATE OR REPLACE FUNCTION tocsin_point_in_area(p_lat double precision,
                                                p_lon double precision, p_area jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c        jsonb;
    poly     jsonb;
    n        integer;
    crosses  integer;
BEGIN
    -- No point or no area (SQL or JSON null) contains nothing: callers may
    -- pass a missing area in a branch that does not use the result.
    IF p_lat IS NULL OR p_lon IS NULL OR p_area IS NULL OR jsonb_typeof(p_area) = 'null' THEN
        RETURN false;
    END IF;
    IF jsonb_typeof(p_area) IS DISTINCT FROM 'object'
       OR (p_area ? 'circle') = (p_area ? 'polygon') THEN
        RAISE EXCEPTION 'an area needs exactly one of circle or polygon'
            USING ERRCODE = 'TS422', COLUMN = 'area';
    END IF;
    IF p_area ? 'circle' THEN
        c := p_area->'circle';
        IF jsonb_typeof(c) IS DISTINCT FROM 'object'
           OR jsonb_typeof(c->'lat') IS DISTINCT FROM 'number'
           OR jsonb_typeof(c->'lon') IS DISTINCT FROM 'number'
           OR jsonb_typeof(c->'radius_m') IS DISTINCT FROM 'number' THEN
            RAISE EXCEPTION 'a circle needs numbers lat, lon and radius_m'
                USING ERRCODE = 'TS422', COLUMN = 'area.circle';
        END IF;
        RETURN tocsin_distance_m(p_lat, p_lon, (c->>'lat')::double precision,
                                 (c->>'lon')::double precision)
               <= (c->>'radius_m')::double precision;
    END IF;
    poly := p_area->'polygon';
    n := CASE WHEN jsonb_typeof(poly) = 'array' THEN jsonb_array_length(poly) ELSE 0 END;
    IF n < 4 OR poly->0 IS DISTINCT FROM poly->(n - 1)
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(poly) AS e(p)
                   WHERE CASE WHEN jsonb_typeof(e.p) = 'array'
                              THEN jsonb_array_length(e.p) <> 2
                                   OR jsonb_typeof(e.p->0) IS DISTINCT FROM 'number'
                                   OR jsonb_typeof(e.p->1) IS DISTINCT FROM 'number'
                              ELSE true END) THEN
        RAISE EXCEPTION 'a polygon needs at least 4 [lat, lon] points, the last equal to the first'
            USING ERRCODE = 'TS422', COLUMN = 'area.polygon';
    END IF;
    -- Count the edges that a ray from the point towards growing longitude
    -- crosses: odd means inside. CASE keeps the division away from
    -- horizontal edges.
    SELECT count(*) INTO crosses
      FROM (SELECT (e.p->>0)::double precision AS a_lat, (e.p->>1)::double precision AS a_lon,
                   lead((e.p->>0)::double precision) OVER (ORDER BY e.i) AS b_lat,
                   lead((e.p->>1)::double precision) OVER (ORDER BY e.i) AS b_lon
              FROM jsonb_array_elements(poly) WITH ORDINALITY AS e(p, i)) AS edge
     WHERE edge.b_lat IS NOT NULL
       AND CASE WHEN (edge.a_lat > p_lat) <> (edge.b_lat > p_lat)
                THEN p_lon < (edge.b_lon - edge.a_lon) * (p_lat - edge.a_lat)
                             / (edge.b_lat - edge.a_lat) + edge.a_lon
                ELSE false END;
    RETURN crosses % 2 = 1;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_site_guards(),
    tocsin_distance_m(double precision, double precision, double precision, double precision),
    tocsin_point_in_area(double precision, double precision, jsonb)
    TO tocsin_broker;
