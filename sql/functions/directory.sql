-- directory.sql: where the sites are and who guards them, for targeting
-- and status (the tables are in sql/schema/02_directory.sql), and the
-- geometry of areas, with PostGIS (since issue 21).

-- The directory the broker keeps in memory to resolve targets while the
-- database is away (degraded-mode targeting): each site's guarding company
-- and whether it is cleared for OFFICIAL-SENSITIVE.
CREATE OR REPLACE FUNCTION tocsin_site_guards()
RETURNS TABLE (site_id integer, guard_org_id integer, cleared boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, guard_org_id, cleared_sensitive FROM sites ORDER BY id;
$$;

-- Great-circle distance in metres, on the sphere of mean earth radius
-- (PostGIS' geography without the spheroid: the haversine this function
-- computed by hand before PostGIS came in with issue 21, to the
-- millimetre at city scale).
CREATE OR REPLACE FUNCTION tocsin_distance_m(lat1 double precision, lon1 double precision,
                                             lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT ST_Distance(ST_SetSRID(ST_MakePoint(lon1, lat1), 4326)::geography,
                       ST_SetSRID(ST_MakePoint(lon2, lat2), 4326)::geography, false);
$$;

-- An area as the protocol writes it: {"circle":{"lat":…,"lon":…,
-- "radius_m":…}} or {"polygon":[[lat,lon],…]} (closed, at least 4
-- points). Raises TS422 with COLUMN 'area' (or the part at fault) when it
-- is malformed, rather than letting it silently match nothing.
CREATE OR REPLACE FUNCTION tocsin_area_check(p_area jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c     jsonb;
    poly  jsonb;
    n     integer;
BEGIN
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
        RETURN;
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
END
$$;

-- A checked area (tocsin_area_check) as a PostGIS geometry in WGS 84:
-- the polygon as drawn (made valid: a drawn polygon may cross itself), a
-- circle as a 32-segment polygon around its centre on the ground (the
-- crime picture selects by it; targeting by circle measures the distance
-- instead, tocsin_point_in_area). NULL for no area.
CREATE OR REPLACE FUNCTION tocsin_area_geom(p_area jsonb)
RETURNS geometry
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c  jsonb := p_area->'circle';
BEGIN
    IF p_area IS NULL OR jsonb_typeof(p_area) = 'null' THEN
        RETURN NULL;
    END IF;
    PERFORM tocsin_area_check(p_area);
    IF c IS NOT NULL THEN
        RETURN ST_Buffer(ST_SetSRID(ST_MakePoint((c->>'lon')::float8, (c->>'lat')::float8),
                                    4326)::geography,
                         (c->>'radius_m')::float8)::geometry;
    END IF;
    RETURN ST_MakeValid(ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY(
        SELECT ST_MakePoint((e.p->>1)::float8, (e.p->>0)::float8)
          FROM jsonb_array_elements(p_area->'polygon') WITH ORDINALITY AS e(p, i)
         ORDER BY e.i))), 4326));
END
$$;

-- tocsin_point_in_area: whether (lat, lon) lies inside an area as the
-- protocol writes it (tocsin_area_check): a circle when its distance to
-- the centre is at most the radius (tocsin_distance_m), a polygon when it
-- covers the point (PostGIS ST_Covers on lat/lon, as the ray casting it
-- replaced: fine at city scale, not across the antimeridian; a point on
-- an edge is inside). Used for report-now and alert targeting. No point
-- or no area (SQL or JSON null) contains nothing: callers may pass a
-- missing area in a branch that does not use the result.
CREATE OR REPLACE FUNCTION tocsin_point_in_area(p_lat double precision,
                                                p_lon double precision, p_area jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c  jsonb := p_area->'circle';
BEGIN
    IF p_lat IS NULL OR p_lon IS NULL OR p_area IS NULL OR jsonb_typeof(p_area) = 'null' THEN
        RETURN false;
    END IF;
    PERFORM tocsin_area_check(p_area);
    IF c IS NOT NULL THEN
        RETURN tocsin_distance_m(p_lat, p_lon, (c->>'lat')::double precision,
                                 (c->>'lon')::double precision)
               <= (c->>'radius_m')::double precision;
    END IF;
    RETURN ST_Covers(tocsin_area_geom(p_area), ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326));
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_site_guards(),
    tocsin_distance_m(double precision, double precision, double precision, double precision),
    tocsin_point_in_area(double precision, double precision, jsonb),
    tocsin_area_check(jsonb),
    tocsin_area_geom(jsonb)
    TO tocsin_broker;
