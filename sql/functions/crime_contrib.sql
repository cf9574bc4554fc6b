-- crime_contrib.sql: crime records contributed by partners and the force
-- (issue 21, items 2 and 4; the columns are in sql/migrations/
-- 050_crime_contributions.sql), and the stolen-property register read
-- from them: a partner's sighting or recovery of a serial on the register
-- becomes an inbox item for the force (partner_reports, kind
-- 'property_match'), and the serial's trail of places is on the map.

-- A property serial (an IMEI, a frame number) as stored: the hex
-- HMAC-SHA256, under crime_serial_key, of its normalised form (capitals,
-- without spaces, hyphens, dots and slashes: "35-209900-176148-1" and
-- "352099001761481" are one phone). TS422 naming property.serial when
-- what is left is not 4 to 40 letters and digits. SECURITY DEFINER: the
-- key is readable by its owner only (050_crime_contributions.sql says
-- why it is keyed).
CREATE OR REPLACE FUNCTION tocsin_crime_serial_hash(p_serial text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v  text := upper(regexp_replace(coalesce(p_serial, ''), '[\s./-]', '', 'g'));
BEGIN
    IF v !~ '^[A-Z0-9]{4,40}$' THEN
        RAISE EXCEPTION 'property.serial must be 4 to 40 letters and digits (spaces, hyphens, dots and slashes aside)'
            USING ERRCODE = 'TS422', COLUMN = 'property.serial';
    END IF;
    RETURN encode(hmac(convert_to(v, 'UTF8'), (SELECT key FROM crime_serial_key), 'sha256'), 'hex');
END
$$;

REVOKE ALL ON FUNCTION tocsin_crime_serial_hash(text) FROM PUBLIC;

-- The values of one contribution (a crime_report frame's members, types
-- checked by the broker, broker/handle/crime_report.c), checked: the
-- category is one of crime_categories, occurred_at an RFC 3339 time not
-- ahead (tocsin_report_time), the place inside the force's area (the
-- broker checked the range) and given unless p_site_ll is (a console's
-- site), a sighting or a recovery names its serial. TS422 names the
-- field. Returns the record to insert (id, created_at and the generated
-- columns left to the insert).
CREATE OR REPLACE FUNCTION tocsin_crime_contribution(p_args jsonb, p_site_lat double precision,
                                                     p_site_lon double precision)
RETURNS crime_records
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c      crime_records;
    pr     jsonb := p_args->'property';
    v_bad  text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM crime_categories WHERE code = p_args->>'category') THEN
        RAISE EXCEPTION 'no crime category "%"', p_args->>'category'
            USING ERRCODE = 'TS422', COLUMN = 'category';
    END IF;
    c.category := p_args->>'category';
    c.at := tocsin_report_time(p_args->>'occurred_at');
    c.at_precision := 'minute';
    IF p_args ? 'lat' THEN
        c.geom := ST_SetSRID(ST_MakePoint((p_args->>'lon')::float8, (p_args->>'lat')::float8), 4326);
    ELSIF p_site_lat IS NOT NULL THEN
        c.geom := ST_SetSRID(ST_MakePoint(p_site_lon, p_site_lat), 4326);
    ELSE
        RAISE EXCEPTION 'lat and lon are required: put a pin where it happened'
            USING ERRCODE = 'TS422', COLUMN = 'lat';
    END IF;
    IF length(p_args->>'text') > 2000 THEN
        RAISE EXCEPTION 'text may be at most 2000 characters' USING ERRCODE = 'TS422', COLUMN = 'text';
    END IF;
    SELECT 'property.' || k INTO v_bad FROM jsonb_each_text(COALESCE(pr, '{}')) e(k, v)
     WHERE length(v) NOT BETWEEN 1 AND 64 ORDER BY k LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% must be 1 to 64 characters', v_bad USING ERRCODE = 'TS422', COLUMN = v_bad;
    END IF;
    c.note := p_args->>'text';
    c.image_id := p_args->>'image';
    c.property_kind := pr->>'kind';
    c.property_make := pr->>'make';
    c.property_model := pr->>'model';
    c.property_status := pr->>'status';
    IF pr ? 'serial' THEN
        c.serial_hash := tocsin_crime_serial_hash(pr->>'serial');
    ELSIF c.property_status IN ('sighted', 'recovered') THEN
        RAISE EXCEPTION 'a sighting or a recovery of property names its serial'
            USING ERRCODE = 'TS422', COLUMN = 'property.serial';
    END IF;
    RETURN c;
END
$$;

-- An inbox item about record c, sent by user u: kind 'crime' (a partner's
-- contribution, its text the partner's note or, without one, the
-- category and property in words) or 'property_match' (c a sighting of a
-- serial on the register, p_text what tocsin_crime_match says of it). Its
-- place is the record's: the pin ('sighting') or the console's site
-- ('site').
CREATE OR REPLACE FUNCTION tocsin_crime_inbox_item(u users, p_kind text, c crime_records,
                                                   p_text text, p_pinned boolean)
RETURNS partner_reports
LANGUAGE sql AS $$
    INSERT INTO partner_reports (kind, text, lat, lon, place, occurred_at, site_id, org_id,
                                 user_id, image_id, crime_record_id)
    VALUES (p_kind,
            CASE p_kind WHEN 'property_match' THEN p_text
            ELSE coalesce(c.note, concat_ws(': ',
                     (SELECT name FROM crime_categories WHERE code = c.category),
                     nullif(concat_ws(' ', c.property_kind, c.property_make, c.property_model,
                                      '(' || c.property_status || ')'), '')))
            END,
            ST_Y(c.geom), ST_X(c.geom),
            CASE WHEN p_kind = 'property_match' OR p_pinned THEN 'sighting' ELSE 'site' END,
            c.at, c.site_id, u.org_id, u.id, c.image_id, c.id)
    RETURNING *;
$$;

-- Stores record c (checked by tocsin_crime_contribution) as user u's
-- (site st for a console): source 'force' for a controller or analyst,
-- else 'partner' with u's organisation. Returns it as stored.
CREATE OR REPLACE FUNCTION tocsin_crime_insert(u users, p_site_id integer, c crime_records)
RETURNS crime_records
LANGUAGE plpgsql AS $$
BEGIN
    c.id := nextval('crime_records_id_seq');
    c.source := CASE WHEN u.role IN ('controller', 'analyst') THEN 'force' ELSE 'partner' END;
    c.org_id := u.org_id;
    c.site_id := p_site_id;
    c.user_id := u.id;
    c.created_at := now();
    INSERT INTO crime_records (id, source, org_id, site_id, user_id, category, at, at_precision,
                               geom, property_kind, property_make, property_model,
                               property_status, serial_hash, note, image_id, created_at)
    VALUES (c.id, c.source, c.org_id, c.site_id, c.user_id, c.category, c.at, c.at_precision,
            c.geom, c.property_kind, c.property_make, c.property_model, c.property_status,
            c.serial_hash, c.note, c.image_id, c.created_at);
    RETURN c;
END
$$;

-- The stolen-property register's answer to record c, stored for user u:
-- when c is a sighting or a recovery of a serial some partner's record
-- reported stolen (the latest such) or the force put on its register
-- (crime_stolen_property, tocsinctl crime stolen add), a
-- 'property_match' inbox item at c's place, audited
-- (property_match_added, naming the stolen record or the register
-- entry); else NULL.
CREATE OR REPLACE FUNCTION tocsin_crime_match(u users, c crime_records, p_remote text)
RETURNS partner_reports
LANGUAGE plpgsql AS $$
DECLARE
    t       crime_records;
    g       crime_stolen_property;
    m       partner_reports;
    v_text  text;
BEGIN
    IF c.property_status NOT IN ('sighted', 'recovered') THEN
        RETURN NULL;
    END IF;
    SELECT * INTO t FROM crime_records r
     WHERE r.serial_hash = c.serial_hash AND r.property_status = 'stolen'
     ORDER BY r.at DESC, r.id DESC LIMIT 1;
    IF FOUND THEN
        v_text := format('Stolen %s reported stolen by %s (%s, record %s), %s here (record %s)',
                         coalesce(nullif(concat_ws(' ', t.property_make, t.property_model), ''),
                                  t.property_kind, 'property'),
                         coalesce((SELECT name FROM organisations WHERE id = t.org_id), t.source),
                         to_char(t.at AT TIME ZONE 'Europe/London', 'YYYY-MM-DD HH24:MI'), t.id,
                         c.property_status, c.id);
    ELSE
        SELECT * INTO g FROM crime_stolen_property p WHERE p.serial_hash = c.serial_hash;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        v_text := format('Stolen %s on the force''s register (entry %s%s, reported %s), %s here (record %s)',
                         concat_ws(' ', g.kind, g.make), g.id, ', crime ' || g.crime_ref,
                         to_char(g.reported, 'YYYY-MM-DD'), c.property_status, c.id);
    END IF;
    m := tocsin_crime_inbox_item(u, 'property_match', c, v_text, true);
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id, site_id,
                       remote_addr, detail)
    VALUES ('property_match_added', u.id, u.username, u.role, u.org_id, c.site_id, p_remote,
            jsonb_strip_nulls(jsonb_build_object(
                'report_id', m.id, 'record_id', c.id, 'stolen_record_id', t.id,
                'register_id', g.id, 'lat', m.lat, 'lon', m.lon)));
    RETURN m;
END
$$;

-- A crime record contributed by user p_user_id (a site console for its
-- site p_site_id, a company operator, or the force: controller, analyst),
-- from the members of a crime_report frame (docs/protocol.md, "Crime
-- records from partners"). Audited (crime_record_added). A partner's
-- record is also an inbox item of kind 'crime' for the force (report, as
-- the inbox shows it; NULL for the force's own records), as a crime
-- reported without a record always was; a sighting or recovery of a
-- serial on the register is a 'property_match' item too (match; NULL
-- otherwise: tocsin_crime_match). SECURITY DEFINER: the serial's key
-- (tocsin_crime_serial_hash).
CREATE OR REPLACE FUNCTION tocsin_crime_report(p_user_id integer, p_site_id integer,
                                               p_args jsonb, p_remote text)
RETURNS TABLE (record_id bigint, report json, match json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u   users := tocsin_status_user(p_user_id, '{site_console,company_operator,controller,analyst}',
                                    'contribute crime records');
    st  sites;
    c   crime_records;
    p   partner_reports;
    m   partner_reports;
BEGIN
    IF u.role = 'site_console' AND u.site_id IS DISTINCT FROM p_site_id THEN
        RAISE EXCEPTION 'a console reports for its own site only' USING ERRCODE = 'TS403';
    END IF;
    SELECT * INTO st FROM sites WHERE id = p_site_id AND u.role = 'site_console';
    c := tocsin_crime_insert(u, st.id, tocsin_crime_contribution(p_args, st.lat, st.lon));
    IF c.source = 'partner' THEN
        p := tocsin_crime_inbox_item(u, 'crime', c, NULL, p_args ? 'lat');
    END IF;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id, site_id,
                       remote_addr, detail)
    VALUES ('crime_record_added', u.id, u.username, u.role, u.org_id, st.id, p_remote,
            jsonb_strip_nulls(jsonb_build_object(
                'record_id', c.id, 'report_id', p.id, 'source', c.source, 'category', c.category,
                'at', c.at, 'lat', ST_Y(c.geom), 'lon', ST_X(c.geom),
                'property_kind', c.property_kind, 'property_status', c.property_status,
                'serial', c.serial_hash IS NOT NULL, 'image', c.image_id)));
    m := tocsin_crime_match(u, c, p_remote);
    -- the other brokers' desks read them (sql/functions/nodes.sql)
    IF p.id IS NOT NULL OR m.id IS NOT NULL THEN
        PERFORM tocsin_notify('tocsin_reports', array_remove(ARRAY[p.id::text, m.id::text], NULL));
    END IF;
    RETURN QUERY SELECT c.id, CASE WHEN p.id IS NOT NULL THEN tocsin_partner_report_json(p) END,
                        CASE WHEN m.id IS NOT NULL THEN tocsin_partner_report_json(m) END;
END
$$;

REVOKE ALL ON FUNCTION tocsin_crime_report(integer, integer, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_crime_report(integer, integer, jsonb, text) TO tocsin_broker;

-- The trail of the serial of record p_record_id: every record with its
-- hash (stolen, sighted, recovered), oldest first, with its place, for
-- the force's map. Empty when the record has no serial.
CREATE OR REPLACE FUNCTION tocsin_crime_trail_of(p_record_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT jsonb_build_object('record_id', p_record_id, 'places', COALESCE(jsonb_agg(
               jsonb_strip_nulls(jsonb_build_object(
                   'id', r.id, 'at', r.at, 'status', r.property_status, 'category', r.category,
                   'lat', round(ST_Y(r.geom)::numeric, 6), 'lon', round(ST_X(r.geom)::numeric, 6),
                   'property_kind', r.property_kind, 'property_make', r.property_make,
                   'property_model', r.property_model,
                   'org', (SELECT o.name FROM organisations o WHERE o.id = r.org_id)))
               ORDER BY r.at, r.id), '[]'::jsonb))
      FROM crime_records r
     WHERE r.serial_hash = (SELECT serial_hash FROM crime_records WHERE id = p_record_id);
$$;

REVOKE ALL ON FUNCTION tocsin_crime_trail_of(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_crime_trail_of(bigint) TO tocsin_broker;

-- POST /api/crime/trail {"record_id": N} (tocsin_crime_api): the trail of
-- a record's serial, for the force only (a company does not learn where
-- a serial it did not report went); audited as a consultation
-- (view_crime_trail, with the records shown).
CREATE OR REPLACE FUNCTION tocsin_crime_trail_api(u users, p_args jsonb, p_remote text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b  jsonb;
BEGIN
    IF u.role NOT IN ('controller', 'analyst') THEN
        RAISE EXCEPTION 'only the force reads the trail of stolen property' USING ERRCODE = 'TS403';
    END IF;
    IF jsonb_typeof(p_args->'record_id') IS DISTINCT FROM 'number'
       OR (p_args->>'record_id') !~ '^[0-9]{1,18}$' THEN
        RAISE EXCEPTION 'record_id must be the id of a crime record' USING ERRCODE = 'TS422',
            COLUMN = 'record_id';
    END IF;
    b := tocsin_crime_trail_of((p_args->>'record_id')::bigint);
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_crime_trail', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('record_id', b->'record_id', 'record_ids',
                               (SELECT COALESCE(jsonb_agg(r->'id'), '[]') FROM jsonb_array_elements(b->'places') r)));
    RETURN b;
END
$$;

GRANT EXECUTE ON FUNCTION tocsin_crime_trail_api(users, jsonb, text) TO tocsin_broker;

-- A line of a CSV file as its fields (RFC 4180 quoting: "a ""b"", c" is
-- one field), or NULL when a quote is out of place. A field may not hold
-- a line break (the upload reads a record a line).
CREATE OR REPLACE FUNCTION tocsin_csv_fields(p_line text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    m     text[];
    f     text[] := '{}';
    seen  text := '';
BEGIN
    FOR m IN SELECT regexp_matches(p_line || ',', '("(?:[^"]|"")*"|[^,"]*),', 'g') LOOP
        seen := seen || m[1] || ',';
        f := f || CASE WHEN left(m[1], 1) = '"'
                       THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"') ELSE m[1] END;
    END LOOP;
    RETURN CASE WHEN seen = p_line || ',' THEN f END;
END
$$;

-- The columns of a desk's CSV of crime records, in order (docs/
-- protocol.md, "Crime records from partners").
CREATE OR REPLACE FUNCTION tocsin_crime_upload_columns()
RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['occurred_at', 'category', 'lat', 'lon', 'text', 'property_kind',
                 'property_make', 'property_model', 'property_serial', 'property_status'];
$$;

-- Line p_line's fields f as a crime_report's members: empty fields are
-- absent; lat and lon numbers in the force's area (as the broker checks
-- a pin: report.c's PLACE_*). TS422 naming the column, the line in the
-- message.
CREATE OR REPLACE FUNCTION tocsin_crime_upload_row(p_line integer, f text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    a  jsonb;
BEGIN
    -- CASE, not OR: the cast must not see what the pattern refused
    IF (CASE WHEN f[3] !~ '^-?[0-9]{1,3}(\.[0-9]{1,12})?$' THEN true
             ELSE f[3]::numeric NOT BETWEEN 51.28 AND 51.70 END) THEN
        RAISE EXCEPTION 'line %: lat must be a number in the force''s area (51.28 to 51.70), not "%"',
            p_line, f[3] USING ERRCODE = 'TS422', COLUMN = 'lat';
    END IF;
    IF (CASE WHEN f[4] !~ '^-?[0-9]{1,3}(\.[0-9]{1,12})?$' THEN true
             ELSE f[4]::numeric NOT BETWEEN -0.52 AND 0.34 END) THEN
        RAISE EXCEPTION 'line %: lon must be a number in the force''s area (-0.52 to 0.34), not "%"',
            p_line, f[4] USING ERRCODE = 'TS422', COLUMN = 'lon';
    END IF;
    a := jsonb_strip_nulls(jsonb_build_object(
        'occurred_at', nullif(f[1], ''), 'category', nullif(f[2], ''),
        'lat', f[3]::float8, 'lon', f[4]::float8, 'text', nullif(f[5], ''),
        'property', nullif(jsonb_strip_nulls(jsonb_build_object(
            'kind', nullif(f[6], ''), 'make', nullif(f[7], ''), 'model', nullif(f[8], ''),
            'serial', nullif(f[9], ''), 'status', nullif(f[10], ''))), '{}'::jsonb)));
    IF NOT a ? 'occurred_at' THEN
        RAISE EXCEPTION 'line %: occurred_at is required', p_line USING ERRCODE = 'TS422',
            COLUMN = 'occurred_at';
    END IF;
    IF a->'property'->>'status' NOT IN ('stolen', 'sighted', 'recovered') THEN
        RAISE EXCEPTION 'line %: property_status must be stolen, sighted or recovered', p_line
            USING ERRCODE = 'TS422', COLUMN = 'property.status';
    END IF;
    RETURN a;
END
$$;

-- POST /api/crime/upload (broker/doors/crime_api.c): a company desk's CSV
-- of crime records (p_csv, UTF-8 text, checked by the broker): the header
-- tocsin_crime_upload_columns, then at most 10,000 rows, each checked as
-- a crime_report is (tocsin_crime_contribution). The first bad line
-- refuses the file: TS400 (bad_csv: the header, a column count, a quote)
-- or TS422 (bad_field naming the column), the line in the message, and
-- nothing is stored. Else every row is stored as the operator's
-- company's, one audit row (crime_records_added, with the ids) and a
-- property_match inbox item for each match. Bulk: no 'crime' inbox item
-- per row. status as tocsin_crime_api's.
CREATE OR REPLACE FUNCTION tocsin_crime_upload(p_user_id integer, p_iat bigint, p_remote text,
                                               p_csv text)
RETURNS TABLE (status text, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v      text;
    u      users;
    lines  text[] := regexp_split_to_array(rtrim(p_csv, E'\r\n'), E'\r?\n');
    n      integer;
    f      text[];
    recs   crime_records[] := '{}';
    c      crime_records;
    m      partner_reports;
    ids    bigint[] := '{}';
    hits   bigint[] := '{}';
    msg    text;
    col    text;
BEGIN
    SELECT k.status INTO v FROM tocsin_token_check(p_user_id, p_iat) k;
    IF v <> 'ok' THEN
        RETURN QUERY SELECT 'revoked'::text, NULL::jsonb;
        RETURN;
    END IF;
    u := tocsin_status_user(p_user_id, '{company_operator}', 'upload crime records');
    n := coalesce(array_length(lines, 1), 0);
    IF n < 2 OR tocsin_csv_fields(lines[1]) IS DISTINCT FROM tocsin_crime_upload_columns() THEN
        RAISE EXCEPTION 'line 1: the header must be %, then one crime a line',
            array_to_string(tocsin_crime_upload_columns(), ',') USING ERRCODE = 'TS400';
    END IF;
    IF n > 10001 THEN
        RAISE EXCEPTION 'line 10002: at most 10,000 crimes a file' USING ERRCODE = 'TS400';
    END IF;
    FOR i IN 2 .. n LOOP
        f := tocsin_csv_fields(lines[i]);
        IF f IS NULL THEN
            RAISE EXCEPTION 'line %: a quote out of place (a field is "quoted" whole, "" for a quote)', i
                USING ERRCODE = 'TS400';
        ELSIF array_length(f, 1) <> 10 THEN
            RAISE EXCEPTION 'line %: 10 columns expected, not %', i, array_length(f, 1)
                USING ERRCODE = 'TS400';
        END IF;
        BEGIN
            recs := recs || tocsin_crime_contribution(tocsin_crime_upload_row(i, f), NULL, NULL);
        EXCEPTION WHEN SQLSTATE 'TS422' THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, col = COLUMN_NAME;
            RAISE EXCEPTION '%', CASE WHEN msg LIKE 'line %' THEN msg ELSE format('line %s: %s', i, msg) END
                USING ERRCODE = 'TS422', COLUMN = col;
        END;
    END LOOP;
    FOREACH c IN ARRAY recs LOOP
        c := tocsin_crime_insert(u, NULL, c);
        ids := ids || c.id;
        m := tocsin_crime_match(u, c, p_remote);
        IF m.id IS NOT NULL THEN
            hits := hits || m.id;
        END IF;
    END LOOP;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('crime_records_added', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('source', 'partner', 'upload', true, 'rows', n - 1,
                               'record_ids', to_jsonb(ids), 'match_report_ids', to_jsonb(hits)));
    IF cardinality(hits) > 0 THEN
        PERFORM tocsin_notify('tocsin_reports', hits::text[]);
    END IF;
    -- not the matches: as for a crime_report, the register is the force's
    RETURN QUERY SELECT 'ok'::text, jsonb_build_object('added', n - 1, 'record_ids', to_jsonb(ids));
END
$$;

REVOKE ALL ON FUNCTION tocsin_crime_upload(integer, bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_crime_upload(integer, bigint, text, text) TO tocsin_broker;
