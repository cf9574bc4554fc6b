-- geocode.sql: what a CAP <geocode> (valueName, value) or an areaDesc
-- means here (issue 18, item 1; 049_cap_geocodes): tocsinctl geocode
-- add|list|remove (role tocsin_admin, audited), and the sites a publish's
-- targets.geocodes reach (tocsin_resolve_targets, sql/functions/alerts.sql).
--
-- A code is written "VALUENAME=VALUE" in targets.geocodes (split at the
-- first '=': CAP valueNames such as SAME, UGC, FIPS6 or ONS have none);
-- "areaDesc=..." is an area's description. Values match without regard to
-- case: "E05009317" and "e05009317", "Los Angeles County" and "los angeles
-- county" are the same place.

-- The sites a list of "VALUENAME=VALUE" codes maps to: the mapping's
-- sites and every site of its sectors; {} when none is known.
CREATE OR REPLACE FUNCTION tocsin_geocode_sites(p_codes jsonb) RETURNS integer[]
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(array_agg(DISTINCT s.id ORDER BY s.id), '{}')
      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_codes) = 'array' THEN p_codes
                                          ELSE '[]' END) c(code)
      JOIN cap_geocodes g ON g.value_name = split_part(c.code, '=', 1)
                         AND lower(g.value) = lower(btrim(substr(c.code, strpos(c.code, '=') + 1)))
      JOIN sites s ON s.id = ANY (g.sites)
                   OR s.sector_id IN (SELECT x.id FROM sectors x WHERE x.code = ANY (g.sectors))
     WHERE strpos(c.code, '=') > 1;
$$;

-- tocsinctl geocode add: maps (valueName, value) to sites (ids) and
-- sectors (codes); a mapping already there is replaced. TS404 names an
-- unknown site or sector, TS422 a bad value. Audited (geocode_added).
CREATE OR REPLACE FUNCTION tocsin_admin_geocode_add(p_actor text, p_value_name text,
                                                    p_value text, p_sites integer[],
                                                    p_sectors text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    v_bad    text;
    v_id     integer;
BEGIN
    IF p_value_name IS NULL OR length(p_value_name) NOT BETWEEN 1 AND 100
       OR strpos(p_value_name, '=') > 0 THEN
        RAISE EXCEPTION 'the valueName must be 1 to 100 characters, without "="'
            USING ERRCODE = 'TS422', COLUMN = 'value_name';
    END IF;
    IF p_value IS NULL OR length(btrim(p_value)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'the value must be 1 to 200 characters'
            USING ERRCODE = 'TS422', COLUMN = 'value';
    END IF;
    IF cardinality(COALESCE(p_sites, '{}')) + cardinality(COALESCE(p_sectors, '{}')) = 0 THEN
        RAISE EXCEPTION 'a geocode maps to at least one site or sector'
            USING ERRCODE = 'TS422', COLUMN = 'targets';
    END IF;
    SELECT x::text INTO v_bad FROM unnest(p_sites) x
     WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.id = x) LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'no site with id %', v_bad USING ERRCODE = 'TS404', COLUMN = 'sites';
    END IF;
    SELECT x INTO v_bad FROM unnest(p_sectors) x
     WHERE NOT EXISTS (SELECT 1 FROM sectors s WHERE s.code = x) LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'no sector %', v_bad USING ERRCODE = 'TS404', COLUMN = 'sectors';
    END IF;
    INSERT INTO cap_geocodes (value_name, value, sites, sectors, added_by)
    VALUES (p_value_name, btrim(p_value), COALESCE(p_sites, '{}'), COALESCE(p_sectors, '{}'),
            v_actor)
    ON CONFLICT (value_name, lower(value)) DO UPDATE
        SET sites = EXCLUDED.sites, sectors = EXCLUDED.sectors, value = EXCLUDED.value,
            added_at = clock_timestamp(), added_by = v_actor
    RETURNING id INTO v_id;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('geocode_added', v_actor, 'tocsinctl',
            jsonb_build_object('value_name', p_value_name, 'value', btrim(p_value),
                               'sites', to_jsonb(COALESCE(p_sites, '{}')),
                               'sectors', to_jsonb(COALESCE(p_sectors, '{}'))));
    RETURN v_id;
END
$$;

-- tocsinctl geocode list: every mapping, by valueName and value.
CREATE OR REPLACE FUNCTION tocsin_admin_geocode_list()
RETURNS TABLE (value_name text, value text, sites integer[], sectors text[],
               added_at timestamptz, added_by text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT g.value_name, g.value, g.sites, g.sectors, g.added_at, g.added_by
      FROM cap_geocodes g ORDER BY g.value_name, lower(g.value);
$$;

-- tocsinctl geocode remove: true when there was such a mapping. Audited
-- (geocode_removed) when there was.
CREATE OR REPLACE FUNCTION tocsin_admin_geocode_remove(p_actor text, p_value_name text,
                                                       p_value text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    g        cap_geocodes%ROWTYPE;
BEGIN
    DELETE FROM cap_geocodes c
     WHERE c.value_name = p_value_name AND lower(c.value) = lower(btrim(p_value))
    RETURNING * INTO g;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('geocode_removed', v_actor, 'tocsinctl',
            jsonb_build_object('value_name', g.value_name, 'value', g.value,
                               'sites', to_jsonb(g.sites), 'sectors', to_jsonb(g.sectors)));
    RETURN true;
END
$$;

GRANT EXECUTE ON FUNCTION tocsin_geocode_sites(jsonb) TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_admin_geocode_add(text, text, text, integer[], text[]),
    tocsin_admin_geocode_list(),
    tocsin_admin_geocode_remove(text, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_geocode_add(text, text, text, integer[], text[]),
    tocsin_admin_geocode_list(),
    tocsin_admin_geocode_remove(text, text, text)
    TO tocsin_admin;
