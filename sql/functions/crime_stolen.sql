-- crime_stolen.sql: the force's register of stolen property, from the
-- command line (tocsinctl crime stolen add|list|remove,
-- broker/ctl/ctl_crime_stolen.c; the table is in
-- sql/migrations/062_crime_picture_counts.sql). A serial put here is
-- matched by partners' later sightings and recoveries as a partner's
-- 'stolen' record is (tocsin_crime_match, crime_contrib.sql): the force's
-- inbox gets a 'property_match' item with the sighting's place. Every
-- change is audited naming the actor; the serial is never stored or
-- audited, only its keyed hash (tocsin_crime_serial_hash). Run as the
-- role tocsin_admin; SECURITY DEFINER, since the table and the key are
-- their owner's.

-- The kinds of property the register takes (the table's CHECK).
CREATE OR REPLACE FUNCTION tocsin_crime_stolen_kinds()
RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['phone', 'laptop', 'tablet', 'bicycle', 'vehicle', 'camera', 'watch',
                 'jewellery', 'other'];
$$;

-- tocsinctl crime stolen add: puts a serial on the register; returns the
-- entry's id. TS422 naming the option (kind, serial, make, crime-ref,
-- reported: a date, not ahead), TS409 when the serial is already there.
-- Audited (stolen_property_added: the entry, never the serial).
CREATE OR REPLACE FUNCTION tocsin_admin_crime_stolen_add(p_actor text, p_kind text, p_serial text,
                                                         p_make text, p_crime_ref text,
                                                         p_reported text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    v_hash   text;
    v_day    date;
    v_id     bigint;
    msg      text;
BEGIN
    IF p_kind IS NULL OR NOT p_kind = ANY (tocsin_crime_stolen_kinds()) THEN
        RAISE EXCEPTION '--kind must be one of %, not "%"',
            array_to_string(tocsin_crime_stolen_kinds(), ', '), coalesce(p_kind, '')
            USING ERRCODE = 'TS422', COLUMN = 'kind';
    END IF;
    BEGIN
        v_hash := tocsin_crime_serial_hash(p_serial);
    EXCEPTION WHEN SQLSTATE 'TS422' THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%', replace(msg, 'property.serial', '--serial')
            USING ERRCODE = 'TS422', COLUMN = 'serial';
    END;
    IF length(p_make) NOT BETWEEN 1 AND 64 THEN
        RAISE EXCEPTION '--make must be 1 to 64 characters' USING ERRCODE = 'TS422', COLUMN = 'make';
    END IF;
    IF length(p_crime_ref) NOT BETWEEN 1 AND 64 THEN
        RAISE EXCEPTION '--crime-ref must be 1 to 64 characters' USING ERRCODE = 'TS422',
            COLUMN = 'crime_ref';
    END IF;
    -- a pattern first: PostgreSQL also reads 'yesterday' and 'epoch' as dates
    BEGIN
        IF p_reported !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
            RAISE invalid_datetime_format;
        END IF;
        v_day := COALESCE(p_reported::date, current_date);
    EXCEPTION WHEN OTHERS THEN
        v_day := NULL;
    END;
    IF v_day IS NULL OR v_day > current_date THEN
        RAISE EXCEPTION '--reported must be a date (YYYY-MM-DD), not after today, not "%"', p_reported
            USING ERRCODE = 'TS422', COLUMN = 'reported';
    END IF;
    SELECT id INTO v_id FROM crime_stolen_property WHERE serial_hash = v_hash;
    IF FOUND THEN
        RAISE EXCEPTION 'that serial is already on the register (entry %)', v_id
            USING ERRCODE = 'TS409', COLUMN = 'serial';
    END IF;
    INSERT INTO crime_stolen_property (kind, make, serial_hash, crime_ref, reported, added_by)
    VALUES (p_kind, p_make, v_hash, p_crime_ref, v_day, v_actor)
    RETURNING id INTO v_id;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('stolen_property_added', v_actor, 'tocsinctl',
            jsonb_strip_nulls(jsonb_build_object('register_id', v_id, 'kind', p_kind,
                                                 'make', p_make, 'crime_ref', p_crime_ref,
                                                 'reported', v_day, 'serial', true)));
    RETURN v_id;
END
$$;

-- tocsinctl crime stolen list: the register, newest first, with how many
-- sightings and recoveries partners have reported of each serial.
CREATE OR REPLACE FUNCTION tocsin_admin_crime_stolen_list()
RETURNS TABLE (id bigint, kind text, make text, crime_ref text, reported date,
               sightings bigint, added_by text, added_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT g.id, g.kind, g.make, g.crime_ref, g.reported,
           (SELECT count(*) FROM crime_records r
             WHERE r.serial_hash = g.serial_hash AND r.property_status IN ('sighted', 'recovered')),
           g.added_by, g.added_at
      FROM crime_stolen_property g ORDER BY g.id DESC;
$$;

-- tocsinctl crime stolen remove ID: takes an entry off the register (the
-- property was recovered, or entered in error); true when there was one.
-- Audited (stolen_property_deleted, an erasure).
CREATE OR REPLACE FUNCTION tocsin_admin_crime_stolen_remove(p_actor text, p_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    g        crime_stolen_property;
BEGIN
    DELETE FROM crime_stolen_property p WHERE p.id = p_id RETURNING * INTO g;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('stolen_property_deleted', v_actor, 'tocsinctl',
            jsonb_strip_nulls(jsonb_build_object('register_id', g.id, 'kind', g.kind,
                                                 'make', g.make, 'crime_ref', g.crime_ref,
                                                 'reported', g.reported)));
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION
    tocsin_admin_crime_stolen_add(text, text, text, text, text, text),
    tocsin_admin_crime_stolen_list(),
    tocsin_admin_crime_stolen_remove(text, bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_crime_stolen_add(text, text, text, text, text, text),
    tocsin_admin_crime_stolen_list(),
    tocsin_admin_crime_stolen_remove(text, bigint)
    TO tocsin_admin;
