-- admin.sql: administration through tocsinctl (organisations, sites,
-- users, console devices) and its read-only views of alerts and the board
-- (docs/tocsinctl.md; the listing views are in sql/schema/11_admin.sql).
--
-- Who may do it: the role tocsin_admin (LOGIN), which tocsinctl connects
-- as. It is a member of tocsin_broker, so it reads what the broker reads,
-- and it alone may EXECUTE the tocsin_admin_* functions below. Those are
-- SECURITY DEFINER (owned by the migration role), so every change is made,
-- checked and audited in one transaction, and the broker's own role can
-- neither call them nor change the directory.
--
-- The actor: tocsinctl passes who ran it ("tocsinctl:<os user>" or its
-- --actor NAME); every change writes an audit row with that name in
-- actor_username and 'tocsinctl' in actor_role, and what changed in detail.
--
-- The browser (issue 17, item 10): an administrator signed in to the
-- broker makes the same changes through the same functions, reached by
-- tocsin_admin_web() at the end of this file, the one function here the
-- broker's role may run. It checks the acting user is an enabled admin
-- from the users row, names that user the actor, and sets the setting
-- tocsin.admin_actor for the rest of its transaction, from which
-- tocsin_admin_audit() writes the user's id, role 'admin', organisation
-- and address, with "via": "web" in the detail. (A tocsin_admin session
-- could set the setting itself; that role may change everything anyway.)
--
-- Revocation: disabling a user (directly, through its organisation, its
-- site, or revoking a console device) sets users.disabled, whose trigger
-- (users_disable_revokes) bumps tokens_valid_after; the broker's
-- revocation sweep (broker/session/revocation.c) closes the live
-- sessions within about two seconds. A new password, a site moved to
-- another guarding company, or a changed role, organisation, site or
-- clearance also bumps tokens_valid_after (the account must sign in
-- again).
--
-- Typed errors as elsewhere: TS404 not found, TS409 conflict (name taken,
-- organisation disabled), TS422 invalid value (COLUMN names the field).

-- ---------------------------------------------------------------- helpers

-- The audit row of an administrative change: tocsinctl's, or, within
-- tocsin_admin_web(), the signed-in administrator's (tocsin.admin_actor).
CREATE OR REPLACE FUNCTION tocsin_admin_audit(p_actor text, p_action text, p_org integer,
                                              p_site integer, p_detail jsonb)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id, site_id,
                       remote_addr, detail)
    SELECT p_action, (w->>'user_id')::integer, p_actor,
           CASE WHEN w IS NULL THEN 'tocsinctl' ELSE 'admin' END, (w->>'org_id')::integer,
           p_site, w->>'remote',
           jsonb_strip_nulls(p_detail || jsonb_build_object(
               'org_id', p_org, 'via', CASE WHEN w IS NOT NULL THEN 'web' END))
      FROM (SELECT NULLIF(current_setting('tocsin.admin_actor', true), '')::jsonb AS w) x;
$$;

-- The actor must be named: the audit needs someone to blame.
CREATE OR REPLACE FUNCTION tocsin_admin_actor(p_actor text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_actor IS NULL OR length(btrim(p_actor)) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'the actor must be 1 to 100 characters' USING ERRCODE = 'TS422',
            COLUMN = 'actor';
    END IF;
    RETURN btrim(p_actor);
END
$$;

-- An organisation by id or by exact name; TS404 when there is none.
CREATE OR REPLACE FUNCTION tocsin_admin_org_ref(p_ref text, p_field text) RETURNS organisations
LANGUAGE plpgsql STABLE AS $$
DECLARE
    o organisations%ROWTYPE;
BEGIN
    IF p_ref ~ '^[0-9]{1,9}$' THEN
        SELECT * INTO o FROM organisations WHERE id = p_ref::integer;
    ELSE
        SELECT * INTO o FROM organisations WHERE name = p_ref;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no organisation %', p_ref USING ERRCODE = 'TS404', COLUMN = p_field;
    END IF;
    RETURN o;
END
$$;

-- A site by slug or by id; TS404 when there is none.
CREATE OR REPLACE FUNCTION tocsin_admin_site_ref(p_ref text, p_field text) RETURNS sites
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s sites%ROWTYPE;
BEGIN
    IF p_ref ~ '^[0-9]{1,9}$' THEN
        SELECT * INTO s FROM sites WHERE id = p_ref::integer;
    ELSE
        SELECT * INTO s FROM sites WHERE slug = p_ref;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no site %', p_ref USING ERRCODE = 'TS404', COLUMN = p_field;
    END IF;
    RETURN s;
END
$$;

-- A user by username; TS404 when there is none.
CREATE OR REPLACE FUNCTION tocsin_admin_user_ref(p_username text) RETURNS users
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE username = p_username;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', p_username USING ERRCODE = 'TS404', COLUMN = 'username';
    END IF;
    RETURN u;
END
$$;

-- Passwords reach the database only as argon2id hashes made by tocsinctl.
CREATE OR REPLACE FUNCTION tocsin_admin_check_hash(p_hash text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_hash IS NULL OR p_hash NOT LIKE '$argon2id$%' THEN
        RAISE EXCEPTION 'the password hash must be argon2id' USING ERRCODE = 'TS422',
            COLUMN = 'password';
    END IF;
END
$$;

-- -------------------------------------------------------- organisations

-- A new organisation (police, police_unit or security_company), under an
-- optional parent.
CREATE OR REPLACE FUNCTION tocsin_admin_org_add(p_actor text, p_name text, p_kind text,
                                                p_parent text)
RETURNS SETOF tocsin_admin_org_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    v_parent integer;
    v_id     integer;
BEGIN
    IF p_name IS NULL OR length(btrim(p_name)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'the name must be 1 to 200 characters' USING ERRCODE = 'TS422',
            COLUMN = 'name';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('police', 'police_unit', 'security_company') THEN
        RAISE EXCEPTION 'the kind must be police, police_unit or security_company'
            USING ERRCODE = 'TS422', COLUMN = 'kind';
    END IF;
    IF EXISTS (SELECT 1 FROM organisations WHERE name = btrim(p_name)) THEN
        RAISE EXCEPTION 'an organisation named % exists already', btrim(p_name)
            USING ERRCODE = 'TS409', COLUMN = 'name';
    END IF;
    IF p_parent IS NOT NULL THEN
        v_parent := (tocsin_admin_org_ref(p_parent, 'parent')).id;
    END IF;
    INSERT INTO organisations (name, kind, parent_id) VALUES (btrim(p_name), p_kind, v_parent)
    RETURNING id INTO v_id;
    PERFORM tocsin_admin_audit(v_actor, 'org_added', v_id, NULL,
        jsonb_build_object('name', btrim(p_name), 'kind', p_kind, 'parent_id', v_parent));
    RETURN QUERY SELECT * FROM tocsin_admin_org_list WHERE id = v_id;
END
$$;

-- Disabling an organisation disables every user of it (their sessions
-- close); its sites stay, as buildings do.
CREATE OR REPLACE FUNCTION tocsin_admin_org_disable(p_actor text, p_org text)
RETURNS SETOF tocsin_admin_org_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    o       organisations%ROWTYPE := tocsin_admin_org_ref(p_org, 'org');
    n       integer;
BEGIN
    UPDATE users SET disabled = true WHERE org_id = o.id AND NOT disabled;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF NOT o.disabled OR n > 0 THEN
        UPDATE organisations SET disabled = true WHERE id = o.id;
        PERFORM tocsin_admin_audit(v_actor, 'org_disabled', o.id, NULL,
            jsonb_build_object('name', o.name, 'users_disabled', n));
    END IF;
    RETURN QUERY SELECT * FROM tocsin_admin_org_list WHERE id = o.id;
END
$$;

-- ---------------------------------------------------------------- sites

-- Checks and applies one site's fields from p_f (slug, name, address, lat,
-- lon, sector, guard, cleared: each optional), returning the new row.
CREATE OR REPLACE FUNCTION tocsin_admin_site_fields(s sites, p_f jsonb) RETURNS sites
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_lat double precision;
    v_lon double precision;
BEGIN
    IF p_f ? 'slug' THEN
        IF COALESCE(p_f->>'slug', '') !~ '^[a-z0-9][a-z0-9-]{0,39}$' THEN
            RAISE EXCEPTION 'the slug must be 1 to 40 of a-z, 0-9 and -, starting with a letter or digit'
                USING ERRCODE = 'TS422', COLUMN = 'slug';
        END IF;
        IF EXISTS (SELECT 1 FROM sites WHERE slug = p_f->>'slug' AND id IS DISTINCT FROM s.id) THEN
            RAISE EXCEPTION 'a site with slug % exists already', p_f->>'slug'
                USING ERRCODE = 'TS409', COLUMN = 'slug';
        END IF;
        s.slug := p_f->>'slug';
    END IF;
    IF p_f ? 'name' THEN
        IF length(btrim(COALESCE(p_f->>'name', ''))) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'the name must be 1 to 200 characters' USING ERRCODE = 'TS422',
                COLUMN = 'name';
        END IF;
        IF EXISTS (SELECT 1 FROM sites WHERE name = btrim(p_f->>'name')
                                        AND id IS DISTINCT FROM s.id) THEN
            RAISE EXCEPTION 'a site named % exists already', btrim(p_f->>'name')
                USING ERRCODE = 'TS409', COLUMN = 'name';
        END IF;
        s.name := btrim(p_f->>'name');
    END IF;
    IF p_f ? 'address' THEN
        IF length(btrim(COALESCE(p_f->>'address', ''))) NOT BETWEEN 1 AND 300 THEN
            RAISE EXCEPTION 'the address must be 1 to 300 characters' USING ERRCODE = 'TS422',
                COLUMN = 'address';
        END IF;
        s.address := btrim(p_f->>'address');
    END IF;
    IF p_f ? 'lat' THEN
        BEGIN
            v_lat := (p_f->>'lat')::double precision;
        EXCEPTION WHEN others THEN
            v_lat := NULL;
        END;
        IF v_lat IS NULL OR v_lat NOT BETWEEN -90 AND 90 THEN
            RAISE EXCEPTION 'lat must be a number from -90 to 90' USING ERRCODE = 'TS422',
                COLUMN = 'lat';
        END IF;
        s.lat := v_lat;
    END IF;
    IF p_f ? 'lon' THEN
        BEGIN
            v_lon := (p_f->>'lon')::double precision;
        EXCEPTION WHEN others THEN
            v_lon := NULL;
        END;
        IF v_lon IS NULL OR v_lon NOT BETWEEN -180 AND 180 THEN
            RAISE EXCEPTION 'lon must be a number from -180 to 180' USING ERRCODE = 'TS422',
                COLUMN = 'lon';
        END IF;
        s.lon := v_lon;
    END IF;
    IF p_f ? 'sector' THEN
        SELECT id INTO s.sector_id FROM sectors WHERE code = p_f->>'sector';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no sector % (one of: %)', p_f->>'sector',
                (SELECT string_agg(code, ', ' ORDER BY code) FROM sectors)
                USING ERRCODE = 'TS404', COLUMN = 'sector';
        END IF;
    END IF;
    IF p_f ? 'guard' THEN
        s.guard_org_id := (tocsin_admin_org_ref(p_f->>'guard', 'guard')).id;
        IF (SELECT kind FROM organisations WHERE id = s.guard_org_id) <> 'security_company' THEN
            RAISE EXCEPTION 'organisation % is not a security company', p_f->>'guard'
                USING ERRCODE = 'TS422', COLUMN = 'guard';
        END IF;
    END IF;
    IF p_f ? 'cleared' THEN
        s.cleared_sensitive := COALESCE((p_f->>'cleared')::boolean, false);
    END IF;
    IF p_f ? 'language' THEN
        IF COALESCE(p_f->>'language', '') !~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$' THEN
            RAISE EXCEPTION 'the language must be a tag such as en-GB or es-US'
                USING ERRCODE = 'TS422', COLUMN = 'language';
        END IF;
        s.language := p_f->>'language';
    END IF;
    RETURN s;
END
$$;

-- A new site, from the same fields as tocsin_admin_site_fields.
CREATE OR REPLACE FUNCTION tocsin_admin_site_add(p_actor text, p_fields jsonb)
RETURNS SETOF tocsin_admin_site_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    s       sites%ROWTYPE;
    f       text;
BEGIN
    FOREACH f IN ARRAY ARRAY['slug', 'name', 'address', 'lat', 'lon', 'sector', 'guard'] LOOP
        IF NOT p_fields ? f THEN
            RAISE EXCEPTION 'a new site needs its %', f USING ERRCODE = 'TS422', COLUMN = f;
        END IF;
    END LOOP;
    s := tocsin_admin_site_fields(s, p_fields);
    INSERT INTO sites (slug, name, address, lat, lon, sector_id, guard_org_id, cleared_sensitive,
                       language)
    VALUES (s.slug, s.name, s.address, s.lat, s.lon, s.sector_id, s.guard_org_id,
            COALESCE(s.cleared_sensitive, false), COALESCE(s.language, 'en-GB'))
    RETURNING id INTO s.id;
    PERFORM tocsin_admin_audit(v_actor, 'site_added', s.guard_org_id, s.id, p_fields);
    RETURN QUERY SELECT * FROM tocsin_admin_site_list WHERE id = s.id;
END
$$;

-- A site moved to another guarding company takes its console devices
-- along (they belong to the guarding company), and a change of the site's
-- clearance is its consoles' too; their tokens are revoked then, since a
-- token names the organisation and the clearance. A new slug does not
-- rename the existing devices.
CREATE OR REPLACE FUNCTION tocsin_admin_site_update(p_actor text, p_site text, p_fields jsonb)
RETURNS SETOF tocsin_admin_site_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    old     sites%ROWTYPE := tocsin_admin_site_ref(p_site, 'site');
    s       sites%ROWTYPE;
BEGIN
    IF p_fields IS NULL OR p_fields = '{}'::jsonb THEN
        RAISE EXCEPTION 'nothing to change' USING ERRCODE = 'TS422', COLUMN = 'fields';
    END IF;
    s := tocsin_admin_site_fields(old, p_fields);
    UPDATE sites SET slug = s.slug, name = s.name, address = s.address, lat = s.lat,
                     lon = s.lon, sector_id = s.sector_id, guard_org_id = s.guard_org_id,
                     cleared_sensitive = s.cleared_sensitive, language = s.language
     WHERE id = s.id;
    IF s.guard_org_id <> old.guard_org_id THEN
        UPDATE users SET org_id = s.guard_org_id, tokens_valid_after = clock_timestamp()
         WHERE site_id = s.id AND role = 'site_console';
    END IF;
    -- The consoles' clearance follows the site's (tokens carry it).
    IF s.cleared_sensitive <> old.cleared_sensitive THEN
        UPDATE users SET cleared_sensitive = s.cleared_sensitive,
                         tokens_valid_after = clock_timestamp()
         WHERE site_id = s.id AND role = 'site_console';
    END IF;
    PERFORM tocsin_admin_audit(v_actor, 'site_updated', s.guard_org_id, s.id,
        jsonb_build_object('changes', p_fields,
                           'before', jsonb_build_object('slug', old.slug, 'name', old.name,
                               'address', old.address, 'lat', old.lat, 'lon', old.lon,
                               'sector_id', old.sector_id, 'guard_org_id', old.guard_org_id,
                               'cleared', old.cleared_sensitive, 'language', old.language)));
    RETURN QUERY SELECT * FROM tocsin_admin_site_list WHERE id = s.id;
END
$$;

-- Disabling a site disables its console devices (their sessions close).
CREATE OR REPLACE FUNCTION tocsin_admin_site_disable(p_actor text, p_site text)
RETURNS SETOF tocsin_admin_site_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    s       sites%ROWTYPE := tocsin_admin_site_ref(p_site, 'site');
    n       integer;
BEGIN
    UPDATE users SET disabled = true WHERE site_id = s.id AND NOT disabled;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF NOT s.disabled OR n > 0 THEN
        UPDATE sites SET disabled = true WHERE id = s.id;
        PERFORM tocsin_admin_audit(v_actor, 'site_disabled', s.guard_org_id, s.id,
            jsonb_build_object('slug', s.slug, 'name', s.name, 'devices_disabled', n));
    END IF;
    RETURN QUERY SELECT * FROM tocsin_admin_site_list WHERE id = s.id;
END
$$;

-- ---------------------------------------------------------------- users

-- p_hash is an argon2id hash made by tocsinctl (the password never reaches
-- the database). A site_console needs a site; its organisation defaults
-- to the site's guarding company.
CREATE OR REPLACE FUNCTION tocsin_admin_user_add(p_actor text, p_username text, p_display text,
                                                 p_role text, p_org text, p_site text,
                                                 p_cleared boolean, p_hash text)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    s       sites%ROWTYPE;
    o       organisations%ROWTYPE;
    v_id    integer;
BEGIN
    IF p_username IS NULL OR p_username !~ '^[a-z0-9._-]{1,64}$' THEN
        RAISE EXCEPTION 'the username must be 1 to 64 of a-z, 0-9, ".", "_" and "-"'
            USING ERRCODE = 'TS422', COLUMN = 'username';
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('controller', 'analyst', 'company_operator',
                                        'site_console', 'admin', 'inspector') THEN
        RAISE EXCEPTION 'the role must be controller, analyst, company_operator, site_console, admin or inspector'
            USING ERRCODE = 'TS422', COLUMN = 'role';
    END IF;
    PERFORM tocsin_admin_check_hash(p_hash);
    IF EXISTS (SELECT 1 FROM users WHERE username = p_username) THEN
        RAISE EXCEPTION 'a user named % exists already', p_username
            USING ERRCODE = 'TS409', COLUMN = 'username';
    END IF;
    IF (p_role = 'site_console') <> (p_site IS NOT NULL) THEN
        RAISE EXCEPTION 'a site is needed for, and only for, the site_console role'
            USING ERRCODE = 'TS422', COLUMN = 'site';
    END IF;
    IF p_site IS NOT NULL THEN
        s := tocsin_admin_site_ref(p_site, 'site');
    END IF;
    IF p_org IS NULL AND s.id IS NULL THEN
        RAISE EXCEPTION 'a user needs an organisation' USING ERRCODE = 'TS422', COLUMN = 'org';
    END IF;
    o := tocsin_admin_org_ref(COALESCE(p_org, s.guard_org_id::text), 'org');
    IF o.disabled THEN
        RAISE EXCEPTION 'organisation % is disabled', o.name USING ERRCODE = 'TS409',
            COLUMN = 'org';
    END IF;
    IF s.disabled THEN
        RAISE EXCEPTION 'site % is disabled', s.slug USING ERRCODE = 'TS409', COLUMN = 'site';
    END IF;
    IF length(btrim(COALESCE(p_display, p_username))) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'the display name must be 1 to 200 characters'
            USING ERRCODE = 'TS422', COLUMN = 'display_name';
    END IF;
    INSERT INTO users (username, display_name, password_hash, role, org_id, site_id,
                       cleared_sensitive)
    VALUES (p_username, btrim(COALESCE(p_display, p_username)), p_hash, p_role, o.id, s.id,
            COALESCE(p_cleared, false))
    RETURNING id INTO v_id;
    PERFORM tocsin_admin_audit(v_actor, 'user_added', o.id, s.id,
        jsonb_build_object('user_id', v_id, 'username', p_username, 'role', p_role,
                           'cleared', COALESCE(p_cleared, false)));
    RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = v_id;
END
$$;

-- tocsinctl user update: change an existing user's role, organisation,
-- site, clearance for OFFICIAL-SENSITIVE or display name (issue #5),
-- audited as user_updated with each changed field's old and new value.
--
-- Revocation: a token carries the user's role, organisation, site and
-- clearance, so a change to any of them bumps users.tokens_valid_after
-- here, in the admin function: the broker's revocation sweep closes the
-- user's live sessions with auth_revoked / 4401 within seconds, and the
-- user signs in again with the new claims. A new display name is not in
-- the token and ends no session. This is deliberately not a trigger on
-- users: tests (and scripts) that change a clearance directly in SQL and
-- then mint a token in the same second would find that token revoked
-- (tocsin_token_floor: a token of the bump's second is treated as
-- revoked).
--
-- p_fields: a JSON object with any of role, org (id or exact name), site
-- (slug or id), cleared (boolean) and display_name. A console's
-- organisation follows a new site's guarding company unless org is given;
-- a user that stops being a site_console loses its site.
CREATE OR REPLACE FUNCTION tocsin_admin_user_update(p_actor text, p_username text, p_fields jsonb)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    old      users%ROWTYPE := tocsin_admin_user_ref(p_username);
    u        users%ROWTYPE := old;
    s        sites%ROWTYPE;
    o        organisations%ROWTYPE;
    v_bad    text;
    v_change jsonb := '{}'::jsonb;
    v_revoke boolean;
BEGIN
    IF p_fields IS NULL OR jsonb_typeof(p_fields) <> 'object' OR p_fields = '{}'::jsonb THEN
        RAISE EXCEPTION 'nothing to change' USING ERRCODE = 'TS422', COLUMN = 'fields';
    END IF;
    SELECT k INTO v_bad FROM jsonb_object_keys(p_fields) AS k
     WHERE k NOT IN ('role', 'org', 'site', 'cleared', 'display_name') LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'no field % (role, org, site, cleared, display_name)', v_bad
            USING ERRCODE = 'TS422', COLUMN = v_bad;
    END IF;

    IF p_fields ? 'role' THEN
        IF COALESCE(p_fields->>'role', '') NOT IN ('controller', 'analyst', 'company_operator',
                                                   'site_console', 'admin', 'inspector') THEN
            RAISE EXCEPTION 'the role must be controller, analyst, company_operator, site_console, admin or inspector'
                USING ERRCODE = 'TS422', COLUMN = 'role';
        END IF;
        u.role := p_fields->>'role';
    END IF;

    IF p_fields ? 'site' THEN
        IF u.role <> 'site_console' THEN
            RAISE EXCEPTION 'a site is only for the site_console role (% is %)', u.username, u.role
                USING ERRCODE = 'TS422', COLUMN = 'site';
        END IF;
        s := tocsin_admin_site_ref(p_fields->>'site', 'site');
        IF s.disabled THEN
            RAISE EXCEPTION 'site % is disabled', COALESCE(s.slug, s.id::text)
                USING ERRCODE = 'TS409', COLUMN = 'site';
        END IF;
        u.site_id := s.id;
    ELSIF u.role <> 'site_console' THEN
        u.site_id := NULL;
    ELSIF u.site_id IS NULL THEN
        RAISE EXCEPTION 'a site_console needs a site (--site)' USING ERRCODE = 'TS422',
            COLUMN = 'site';
    END IF;

    IF p_fields ? 'org' THEN
        o := tocsin_admin_org_ref(p_fields->>'org', 'org');
        u.org_id := o.id;
    ELSIF u.role = 'site_console' AND u.site_id IS DISTINCT FROM old.site_id THEN
        -- a console belongs to the company guarding its site
        SELECT * INTO o FROM organisations
         WHERE id = (SELECT guard_org_id FROM sites WHERE id = u.site_id);
        u.org_id := o.id;
    END IF;
    IF u.org_id <> old.org_id AND o.disabled THEN
        RAISE EXCEPTION 'organisation % is disabled', o.name USING ERRCODE = 'TS409',
            COLUMN = 'org';
    END IF;

    IF p_fields ? 'cleared' THEN
        IF jsonb_typeof(p_fields->'cleared') IS DISTINCT FROM 'boolean' THEN
            RAISE EXCEPTION 'cleared must be true or false' USING ERRCODE = 'TS422',
                COLUMN = 'cleared';
        END IF;
        u.cleared_sensitive := (p_fields->>'cleared')::boolean;
    END IF;

    IF p_fields ? 'display_name' THEN
        IF length(btrim(COALESCE(p_fields->>'display_name', ''))) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'the display name must be 1 to 200 characters'
                USING ERRCODE = 'TS422', COLUMN = 'display_name';
        END IF;
        u.display_name := btrim(p_fields->>'display_name');
    END IF;

    -- What changed, with the old and new values (ids as stored).
    SELECT COALESCE(jsonb_object_agg(f.name, jsonb_build_object('old', f.old, 'new', f.new)), '{}')
      INTO v_change
      FROM (VALUES ('role', to_jsonb(old.role), to_jsonb(u.role)),
                   ('org_id', to_jsonb(old.org_id), to_jsonb(u.org_id)),
                   ('site_id', to_jsonb(old.site_id), to_jsonb(u.site_id)),
                   ('cleared', to_jsonb(COALESCE(old.cleared_sensitive, false)),
                               to_jsonb(COALESCE(u.cleared_sensitive, false))),
                   ('display_name', to_jsonb(old.display_name), to_jsonb(u.display_name)))
           AS f (name, old, new)
     WHERE f.old IS DISTINCT FROM f.new;
    IF v_change = '{}'::jsonb THEN
        RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = u.id;
        RETURN;
    END IF;

    -- The token carries role, org, site and clearance: end its sessions.
    v_revoke := v_change ?| ARRAY['role', 'org_id', 'site_id', 'cleared'];
    UPDATE users SET role = u.role, org_id = u.org_id, site_id = u.site_id,
                     cleared_sensitive = u.cleared_sensitive, display_name = u.display_name,
                     tokens_valid_after = CASE WHEN v_revoke THEN clock_timestamp()
                                               ELSE tokens_valid_after END
     WHERE id = u.id;
    PERFORM tocsin_admin_audit(v_actor, 'user_updated', u.org_id, u.site_id,
        jsonb_build_object('user_id', u.id, 'username', u.username, 'changes', v_change,
                           'sessions_ended', v_revoke));
    RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = u.id;
END
$$;

-- Disable (sessions close within seconds) or enable (the tokens it held
-- before stay revoked: it must sign in again).
CREATE OR REPLACE FUNCTION tocsin_admin_user_set_disabled(p_actor text, p_username text,
                                                          p_disabled boolean)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    u       users%ROWTYPE := tocsin_admin_user_ref(p_username);
BEGIN
    IF NOT p_disabled AND EXISTS (SELECT 1 FROM organisations WHERE id = u.org_id AND disabled) THEN
        RAISE EXCEPTION 'the organisation of % is disabled', u.username
            USING ERRCODE = 'TS409', COLUMN = 'org';
    END IF;
    IF NOT p_disabled AND EXISTS (SELECT 1 FROM sites WHERE id = u.site_id AND disabled) THEN
        RAISE EXCEPTION 'the site of % is disabled', u.username
            USING ERRCODE = 'TS409', COLUMN = 'site';
    END IF;
    IF u.disabled IS DISTINCT FROM p_disabled THEN
        UPDATE users SET disabled = p_disabled WHERE id = u.id;
        PERFORM tocsin_admin_audit(v_actor,
            CASE WHEN p_disabled THEN 'user_disabled' ELSE 'user_enabled' END,
            u.org_id, u.site_id,
            jsonb_build_object('user_id', u.id, 'username', u.username, 'role', u.role));
    END IF;
    RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = u.id;
END
$$;

-- A new password ends the sessions of the old one.
CREATE OR REPLACE FUNCTION tocsin_admin_user_set_password(p_actor text, p_username text,
                                                          p_hash text)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    u       users%ROWTYPE := tocsin_admin_user_ref(p_username);
BEGIN
    PERFORM tocsin_admin_check_hash(p_hash);
    UPDATE users SET password_hash = p_hash, tokens_valid_after = clock_timestamp()
     WHERE id = u.id;
    PERFORM tocsin_admin_audit(v_actor, 'user_password_set', u.org_id, u.site_id,
        jsonb_build_object('user_id', u.id, 'username', u.username));
    RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = u.id;
END
$$;

-- ------------------------------------------------------ console devices

-- A console device is a site_console user of one site, named
-- console.<slug> (the first), console.<slug>.<name> with p_name, or
-- console.<slug>-<n> when those are taken.
CREATE OR REPLACE FUNCTION tocsin_admin_device_add(p_actor text, p_site text, p_name text,
                                                   p_hash text)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    s       sites%ROWTYPE := tocsin_admin_site_ref(p_site, 'site');
    v_user  text;
    n       integer := 2;
BEGIN
    IF s.slug IS NULL THEN
        RAISE EXCEPTION 'site % has no slug: give it one with site update --slug', s.id
            USING ERRCODE = 'TS422', COLUMN = 'site';
    END IF;
    IF p_name IS NOT NULL AND p_name !~ '^[a-z0-9][a-z0-9_-]{0,20}$' THEN
        RAISE EXCEPTION 'the device name must be 1 to 21 of a-z, 0-9, "_" and "-"'
            USING ERRCODE = 'TS422', COLUMN = 'name';
    END IF;
    v_user := 'console.' || s.slug || COALESCE('.' || p_name, '');
    IF p_name IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE username = v_user) THEN
        RAISE EXCEPTION 'a device named % exists already', v_user
            USING ERRCODE = 'TS409', COLUMN = 'name';
    END IF;
    WHILE EXISTS (SELECT 1 FROM users WHERE username = v_user) LOOP
        v_user := 'console.' || s.slug || '-' || n;
        n := n + 1;
    END LOOP;
    RETURN QUERY SELECT * FROM tocsin_admin_user_add(v_actor, v_user,
        COALESCE('Console ' || p_name, 'Console') || ', ' || s.name, 'site_console', NULL,
        s.id::text, s.cleared_sensitive, p_hash);
    PERFORM tocsin_admin_audit(v_actor, 'device_added', s.guard_org_id, s.id,
        jsonb_build_object('username', v_user));
END
$$;

-- Revoking a device disables its user: its live connections close within
-- seconds and it cannot sign in again.
CREATE OR REPLACE FUNCTION tocsin_admin_device_revoke(p_actor text, p_username text)
RETURNS SETOF tocsin_admin_user_list
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    u       users%ROWTYPE := tocsin_admin_user_ref(p_username);
BEGIN
    IF u.role <> 'site_console' THEN
        RAISE EXCEPTION '% is not a console device (role %)', u.username, u.role
            USING ERRCODE = 'TS404', COLUMN = 'username';
    END IF;
    IF NOT u.disabled THEN
        UPDATE users SET disabled = true WHERE id = u.id;
        PERFORM tocsin_admin_audit(v_actor, 'device_revoked', u.org_id, u.site_id,
            jsonb_build_object('user_id', u.id, 'username', u.username));
    END IF;
    RETURN QUERY SELECT * FROM tocsin_admin_user_list WHERE id = u.id;
END
$$;

-- ------------------------------------------------- alerts and the board

-- Alerts with their tallies, newest first. Listing is not a consultation
-- of an alert's content beyond its headline, so it is not audited.
CREATE OR REPLACE FUNCTION tocsin_admin_alerts(p_since timestamptz, p_limit integer)
RETURNS TABLE (id bigint, sent_at text, status text, msg_type text, severity text,
               headline text, sender text, recipients bigint, delivered bigint,
               read bigint, acknowledged bigint, answers bigint, cancelled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT a.id, to_char(a.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           a.status, a.msg_type, a.severity, a.headline, u.username,
           t.recipients, t.delivered, t.read, t.acknowledged,
           (SELECT count(DISTINCT w.site_id) FROM answers w WHERE w.alert_id = a.id),
           a.cancelled_at IS NOT NULL
      FROM alerts a
      JOIN users u ON u.id = a.sender_user_id
      JOIN alert_tallies t ON t.alert_id = a.id
     WHERE p_since IS NULL OR a.sent_at >= p_since
     ORDER BY a.id DESC
     LIMIT LEAST(GREATEST(COALESCE(p_limit, 50), 1), 10000);
$$;

-- tocsinctl consults one alert: TS404 when there is none, else audited
-- as a consultation (view_alert) with detail ({} for alert show,
-- {"verify": true} for alert verify: sql/functions/signing.sql).
CREATE OR REPLACE FUNCTION tocsin_admin_view_alert(p_actor text, p_alert bigint, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE alerts.id = p_alert) THEN
        RAISE EXCEPTION 'no alert %', p_alert USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, alert_id, detail)
    VALUES ('view_alert', v_actor, 'tocsinctl', p_alert, p_detail);
END
$$;

REVOKE EXECUTE ON FUNCTION tocsin_admin_view_alert(text, bigint, jsonb) FROM PUBLIC;

-- One alert in full, its tallies and the recipient sites that have not
-- acknowledged; audited as a consultation (view_alert).
CREATE OR REPLACE FUNCTION tocsin_admin_alert_show(p_actor text, p_alert bigint)
RETURNS TABLE (alert_json json, tallies_json json, not_acknowledged_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM tocsin_admin_view_alert(p_actor, p_alert, '{}'::jsonb);
    RETURN QUERY
    SELECT tocsin_alert_json(p_alert),
           (SELECT json_build_object('recipients', t.recipients, 'delivered', t.delivered,
                                     'read', t.read, 'acknowledged', t.acknowledged,
                                     'answers', (SELECT count(DISTINCT w.site_id) FROM answers w
                                                  WHERE w.alert_id = p_alert))
              FROM alert_tallies t WHERE t.alert_id = p_alert),
           (SELECT COALESCE(json_agg(json_build_object(
                       'site_id', s.id, 'slug', s.slug, 'name', s.name,
                       'guard_org_id', s.guard_org_id,
                       'delivered', EXISTS (SELECT 1 FROM delivered_sites d
                                             WHERE d.alert_id = p_alert AND d.site_id = s.id),
                       'read', EXISTS (SELECT 1 FROM reads x
                                        WHERE x.alert_id = p_alert AND x.site_id = s.id))
                       ORDER BY s.id), '[]'::json)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = p_alert
               AND NOT EXISTS (SELECT 1 FROM acks k
                                WHERE k.alert_id = p_alert AND k.site_id = r.site_id));
END
$$;

-- The latest status of every site (optionally of one guarding company's),
-- audited as a consultation (view_board), as the broker's board is.
CREATE OR REPLACE FUNCTION tocsin_admin_board(p_actor text, p_org text)
RETURNS TABLE (site_id integer, slug text, site_name text, guard_org_id integer,
               state text, people integer, officers integer, trauma_packs integer,
               first_aid_kits integer, defibrillators integer, cctv text, note text,
               reported_at text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
    v_org   integer;
    n       integer;
BEGIN
    IF p_org IS NOT NULL THEN
        v_org := (tocsin_admin_org_ref(p_org, 'org')).id;
    END IF;
    SELECT count(*) INTO n FROM status_board b WHERE v_org IS NULL OR b.guard_org_id = v_org;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('view_board', v_actor, 'tocsinctl',
            jsonb_strip_nulls(jsonb_build_object('scope', CASE WHEN v_org IS NULL THEN 'all'
                                                               ELSE 'org' END,
                                                 'org_id', v_org, 'sites', n)));
    RETURN QUERY
    SELECT b.site_id, s.slug, b.site_name, b.guard_org_id, b.state, b.people, b.officers,
           b.trauma_packs, b.first_aid_kits, b.defibrillators, b.cctv, b.note,
           tocsin_status_time(b.reported_at)
      FROM status_board b JOIN sites s ON s.id = b.site_id
     WHERE v_org IS NULL OR b.guard_org_id = v_org
     ORDER BY b.site_name;
END
$$;

-- ------------------------------------------------------- the browser

-- Everything the admin page (web-client/admin.html) lists: organisations,
-- sites, users (never a password hash) and sectors.
CREATE OR REPLACE FUNCTION tocsin_admin_web_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'orgs', (SELECT COALESCE(json_agg(o ORDER BY o.name), '[]') FROM tocsin_admin_org_list o),
        'sites', (SELECT COALESCE(json_agg(s ORDER BY s.name), '[]') FROM tocsin_admin_site_list s),
        'users', (SELECT COALESCE(json_agg(u ORDER BY u.username), '[]')
                    FROM tocsin_admin_user_list u),
        'sectors', (SELECT COALESCE(json_agg(json_build_object('code', x.code, 'name', x.name)
                                             ORDER BY x.name), '[]') FROM sectors x));
$$;

-- tocsin_admin_web: one administrative operation for an administrator
-- signed in to the broker (handle/admin.c), through the same function
-- tocsinctl runs, with the same checks and the same audit rows, the actor
-- being that user (see the header). p_op names the operation, p_args its
-- arguments (the broker checked their types; the functions check the
-- rest). A password arrives only as the argon2id hash the broker made
-- (hash), never in clear. Returns {"rows": [the changed rows]} and, for a
-- site, its board entry ({"board": …}, for the control rooms), or for
-- 'list' tocsin_admin_web_list(). TS403 unless p_user_id is an enabled
-- admin.
CREATE OR REPLACE FUNCTION tocsin_admin_web(p_user_id integer, p_op text, p_args jsonb,
                                            p_remote text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u      users%ROWTYPE;
    a      jsonb := COALESCE(p_args, '{}'::jsonb);
    v_rows json;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled AND role = 'admin';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'only an enabled administrator may administer Tocsin'
            USING ERRCODE = 'TS403';
    END IF;
    IF p_op = 'list' THEN
        RETURN tocsin_admin_web_list();
    END IF;
    PERFORM set_config('tocsin.admin_actor',
                       json_build_object('user_id', u.id, 'org_id', u.org_id,
                                         'remote', p_remote)::text, true);
    CASE p_op
    WHEN 'org_add' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_org_add(u.username, a->>'name', a->>'kind', a->>'parent') r;
    WHEN 'org_disable' THEN
        SELECT json_agg(r) INTO v_rows FROM tocsin_admin_org_disable(u.username, a->>'org') r;
    WHEN 'site_add' THEN
        SELECT json_agg(r) INTO v_rows FROM tocsin_admin_site_add(u.username, a->'fields') r;
    WHEN 'site_update' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_site_update(u.username, a->>'site', a->'fields') r;
    WHEN 'site_disable' THEN
        SELECT json_agg(r) INTO v_rows FROM tocsin_admin_site_disable(u.username, a->>'site') r;
    WHEN 'user_add' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_user_add(u.username, a->>'username', a->>'display_name',
                                     a->>'role', a->>'org', a->>'site',
                                     (a->>'cleared')::boolean, a->>'hash') r;
    WHEN 'user_update' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_user_update(u.username, a->>'username', a->'fields') r;
    WHEN 'user_disable', 'user_enable' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_user_set_disabled(u.username, a->>'username',
                                              p_op = 'user_disable') r;
    WHEN 'user_password' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_user_set_password(u.username, a->>'username', a->>'hash') r;
    WHEN 'device_add' THEN
        SELECT json_agg(r) INTO v_rows
          FROM tocsin_admin_device_add(u.username, a->>'site', a->>'name', a->>'hash') r;
    WHEN 'device_revoke' THEN
        SELECT json_agg(r) INTO v_rows FROM tocsin_admin_device_revoke(u.username, a->>'username') r;
    ELSE
        RAISE EXCEPTION 'no operation %', p_op USING ERRCODE = 'TS422', COLUMN = 'op';
    END CASE;
    PERFORM set_config('tocsin.admin_actor', '', true);
    RETURN json_build_object(
        'rows', COALESCE(v_rows, '[]'::json),
        'board', CASE WHEN p_op LIKE 'site\_%' THEN
                          (SELECT tocsin_board_site(b) FROM status_board b
                            WHERE b.site_id = (v_rows->0->>'id')::integer) END);
END
$$;

REVOKE EXECUTE ON FUNCTION
    tocsin_admin_org_add(text, text, text, text),
    tocsin_admin_org_disable(text, text),
    tocsin_admin_site_add(text, jsonb),
    tocsin_admin_site_update(text, text, jsonb),
    tocsin_admin_site_disable(text, text),
    tocsin_admin_user_add(text, text, text, text, text, text, boolean, text),
    tocsin_admin_user_update(text, text, jsonb),
    tocsin_admin_user_set_disabled(text, text, boolean),
    tocsin_admin_user_set_password(text, text, text),
    tocsin_admin_device_add(text, text, text, text),
    tocsin_admin_device_revoke(text, text),
    tocsin_admin_alerts(timestamptz, integer),
    tocsin_admin_alert_show(text, bigint),
    tocsin_admin_board(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_org_add(text, text, text, text),
    tocsin_admin_org_disable(text, text),
    tocsin_admin_site_add(text, jsonb),
    tocsin_admin_site_update(text, text, jsonb),
    tocsin_admin_site_disable(text, text),
    tocsin_admin_user_add(text, text, text, text, text, text, boolean, text),
    tocsin_admin_user_update(text, text, jsonb),
    tocsin_admin_user_set_disabled(text, text, boolean),
    tocsin_admin_user_set_password(text, text, text),
    tocsin_admin_device_add(text, text, text, text),
    tocsin_admin_device_revoke(text, text),
    tocsin_admin_alerts(timestamptz, integer),
    tocsin_admin_alert_show(text, bigint),
    tocsin_admin_board(text, text)
    TO tocsin_admin;
REVOKE EXECUTE ON FUNCTION
    tocsin_admin_web(integer, text, jsonb, text),
    tocsin_admin_web_list()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_web(integer, text, jsonb, text)
    TO tocsin_broker;
