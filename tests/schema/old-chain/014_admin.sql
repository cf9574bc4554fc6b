-- 014_admin.sql: administration through tocsinctl (organisations, sites,
-- users, console devices) and its read-only views of alerts and the board.
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
-- Revocation: disabling a user (directly, through its organisation, its
-- site, or revoking a console device) sets users.disabled, whose trigger
-- (011) bumps tokens_valid_after; the broker's revocation sweep
-- (broker/revocation.c, tocsin_revoked) closes the live sessions within
-- about two seconds. A new password or a site moved to another guarding
-- company also bumps tokens_valid_after (the account must sign in again).
--
-- Typed errors as elsewhere: TS404 not found, TS409 conflict (name taken,
-- organisation disabled), TS422 invalid value (COLUMN names the field).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_admin') THEN
        CREATE ROLE tocsin_admin LOGIN;
    END IF;
END
$$;
GRANT tocsin_broker TO tocsin_admin;

ALTER TABLE organisations ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE sites ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- A site's short name: its console devices are named console.<slug>.
ALTER TABLE sites ADD COLUMN slug text UNIQUE
    CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$');

-- Sites made before slugs existed take theirs from their console user
-- (console.<slug>), now and when such a user is added later (the demo data
-- adds sites, then their consoles).
CREATE FUNCTION tocsin_slug_from_console() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v text := substr(NEW.username, 9);
BEGIN
    IF NEW.role = 'site_console' AND NEW.username LIKE 'console.%'
       AND v ~ '^[a-z0-9][a-z0-9-]{0,39}$'
       AND NOT EXISTS (SELECT 1 FROM sites WHERE slug = v) THEN
        UPDATE sites SET slug = v WHERE id = NEW.site_id AND slug IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_site_slug AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION tocsin_slug_from_console();

UPDATE sites s SET slug = c.slug
  FROM (SELECT DISTINCT ON (u.site_id) u.site_id, substr(u.username, 9) AS slug
          FROM users u
         WHERE u.role = 'site_console' AND u.username LIKE 'console.%'
           AND substr(u.username, 9) ~ '^[a-z0-9][a-z0-9-]{0,39}$'
         ORDER BY u.site_id, u.id) c
 WHERE s.id = c.site_id AND s.slug IS NULL;

-- ---------------------------------------------------------------- helpers

-- The audit row of an administrative change.
CREATE FUNCTION tocsin_admin_audit(p_actor text, p_action text, p_org integer,
                                   p_site integer, p_detail jsonb)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_username, actor_role, actor_org_id, site_id, detail)
    VALUES (p_action, p_actor, 'tocsinctl', NULL, p_site,
            jsonb_strip_nulls(p_detail || jsonb_build_object('org_id', p_org)));
$$;

-- The actor must be named: the audit needs someone to blame.
CREATE FUNCTION tocsin_admin_actor(p_actor text) RETURNS text
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
CREATE FUNCTION tocsin_admin_org_ref(p_ref text, p_field text) RETURNS organisations
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
CREATE FUNCTION tocsin_admin_site_ref(p_ref text, p_field text) RETURNS sites
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

CREATE FUNCTION tocsin_admin_user_ref(p_username text) RETURNS users
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

CREATE FUNCTION tocsin_admin_check_hash(p_hash text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_hash IS NULL OR p_hash NOT LIKE '$argon2id$%' THEN
        RAISE EXCEPTION 'the password hash must be argon2id' USING ERRCODE = 'TS422',
            COLUMN = 'password';
    END IF;
END
$$;

-- ------------------------------------------------------------ listings

CREATE VIEW tocsin_admin_org_list AS
SELECT o.id, o.name, o.kind, o.parent_id, o.disabled,
       (SELECT count(*) FROM sites s WHERE s.guard_org_id = o.id) AS sites,
       (SELECT count(*) FROM users u WHERE u.org_id = o.id AND NOT u.disabled) AS active_users
  FROM organisations o;

CREATE VIEW tocsin_admin_site_list AS
SELECT s.id, s.slug, s.name, s.address, s.lat, s.lon, x.code AS sector,
       s.guard_org_id, o.name AS guard_org, s.cleared_sensitive AS cleared, s.disabled
  FROM sites s JOIN sectors x ON x.id = s.sector_id JOIN organisations o ON o.id = s.guard_org_id;

CREATE VIEW tocsin_admin_user_list AS
SELECT u.id, u.username, u.display_name, u.role, u.org_id, o.name AS org, u.site_id,
       s.slug AS site, u.cleared_sensitive AS cleared, u.disabled
  FROM users u JOIN organisations o ON o.id = u.org_id LEFT JOIN sites s ON s.id = u.site_id;

-- -------------------------------------------------------- organisations

CREATE FUNCTION tocsin_admin_org_add(p_actor text, p_name text, p_kind text, p_parent text)
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
CREATE FUNCTION tocsin_admin_org_disable(p_actor text, p_org text)
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
CREATE FUNCTION tocsin_admin_site_fields(s sites, p_f jsonb) RETURNS sites
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
    RETURN s;
END
$$;

CREATE FUNCTION tocsin_admin_site_add(p_actor text, p_fields jsonb)
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
    INSERT INTO sites (slug, name, address, lat, lon, sector_id, guard_org_id, cleared_sensitive)
    VALUES (s.slug, s.name, s.address, s.lat, s.lon, s.sector_id, s.guard_org_id,
            COALESCE(s.cleared_sensitive, false))
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
CREATE FUNCTION tocsin_admin_site_update(p_actor text, p_site text, p_fields jsonb)
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
                     cleared_sensitive = s.cleared_sensitive
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
                               'cleared', old.cleared_sensitive)));
    RETURN QUERY SELECT * FROM tocsin_admin_site_list WHERE id = s.id;
END
$$;

-- Disabling a site disables its console devices (their sessions close).
CREATE FUNCTION tocsin_admin_site_disable(p_actor text, p_site text)
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
CREATE FUNCTION tocsin_admin_user_add(p_actor text, p_username text, p_display text,
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
                                        'site_console', 'admin') THEN
        RAISE EXCEPTION 'the role must be controller, analyst, company_operator, site_console or admin'
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

-- Disable (sessions close within seconds) or enable (the tokens it held
-- before stay revoked: it must sign in again).
CREATE FUNCTION tocsin_admin_user_set_disabled(p_actor text, p_username text, p_disabled boolean)
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
CREATE FUNCTION tocsin_admin_user_set_password(p_actor text, p_username text, p_hash text)
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
CREATE FUNCTION tocsin_admin_device_add(p_actor text, p_site text, p_name text, p_hash text)
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
CREATE FUNCTION tocsin_admin_device_revoke(p_actor text, p_username text)
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
CREATE FUNCTION tocsin_admin_alerts(p_since timestamptz, p_limit integer)
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

-- One alert in full, its tallies and the recipient sites that have not
-- acknowledged; audited as a consultation (view_alert).
CREATE FUNCTION tocsin_admin_alert_show(p_actor text, p_alert bigint)
RETURNS TABLE (alert_json json, tallies_json json, not_acknowledged_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor text := tocsin_admin_actor(p_actor);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE alerts.id = p_alert) THEN
        RAISE EXCEPTION 'no alert %', p_alert USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, alert_id, detail)
    VALUES ('view_alert', v_actor, 'tocsinctl', p_alert, '{}'::jsonb);
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
CREATE FUNCTION tocsin_admin_board(p_actor text, p_org text)
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

-- ------------------------------------------------------ disabled sites

-- tocsin_resolve_targets (006) with one change: a disabled site is left
-- out of every alert (included false, reason 'site disabled'), named or
-- matched, so neither its consoles nor its guarding company's operators
-- get alerts for it; the preview shows it among the excluded.
CREATE OR REPLACE FUNCTION tocsin_resolve_targets(p_rec jsonb)
RETURNS TABLE (site_id integer, site_name text, sector text, guard_org_id integer,
               included boolean, reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t          jsonb := COALESCE(p_rec->'targets', '{}'::jsonb);
    v_orgs     integer[] := tocsin_json_ints(t->'orgs');
    v_sites    integer[] := tocsin_json_ints(t->'sites');
    v_sectors  text[] := ARRAY(SELECT jsonb_array_elements_text(COALESCE(t->'sectors', '[]')));
    v_area     boolean := COALESCE((t->>'area')::boolean, false);
    v_filter   boolean;
    v_secret   boolean := COALESCE(p_rec->>'classification', 'OFFICIAL') = 'OFFICIAL-SENSITIVE';
    bad_id     integer;
    bad_code   text;
    pos        bigint;
BEGIN
    SELECT o, i INTO bad_id, pos FROM unnest(v_orgs) WITH ORDINALITY AS x(o, i)
     WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE id = x.o) ORDER BY i LIMIT 1;
    IF bad_id IS NOT NULL THEN
        RAISE EXCEPTION 'no organisation with id %', bad_id
            USING ERRCODE = 'TS404', COLUMN = format('targets.orgs[%s]', pos - 1);
    END IF;
    SELECT s, i INTO bad_id, pos FROM unnest(v_sites) WITH ORDINALITY AS x(s, i)
     WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = x.s) ORDER BY i LIMIT 1;
    IF bad_id IS NOT NULL THEN
        RAISE EXCEPTION 'no site with id %', bad_id
            USING ERRCODE = 'TS404', COLUMN = format('targets.sites[%s]', pos - 1);
    END IF;
    SELECT c, i INTO bad_code, pos FROM unnest(v_sectors) WITH ORDINALITY AS x(c, i)
     WHERE NOT EXISTS (SELECT 1 FROM sectors WHERE code = x.c) ORDER BY i LIMIT 1;
    IF bad_code IS NOT NULL THEN
        RAISE EXCEPTION 'no sector %', bad_code
            USING ERRCODE = 'TS404', COLUMN = format('targets.sectors[%s]', pos - 1);
    END IF;
    IF v_area AND p_rec->'area' IS NULL THEN
        RAISE EXCEPTION 'targets.area needs the alert''s area'
            USING ERRCODE = 'TS422', COLUMN = 'area';
    END IF;
    v_filter := cardinality(v_orgs) > 0 OR cardinality(v_sectors) > 0 OR v_area;
    RETURN QUERY
    SELECT s.id, s.name, x.code, s.guard_org_id,
           NOT s.disabled AND (NOT v_secret OR s.cleared_sensitive),
           CASE WHEN s.disabled THEN 'site disabled'
                WHEN v_secret AND NOT s.cleared_sensitive
                THEN 'not cleared for OFFICIAL-SENSITIVE' END
      FROM sites s JOIN sectors x ON x.id = s.sector_id
     WHERE s.id = ANY (v_sites)
        OR (v_filter
            AND (cardinality(v_orgs) = 0 OR s.guard_org_id = ANY (v_orgs))
            AND (cardinality(v_sectors) = 0 OR x.code = ANY (v_sectors))
            AND (NOT v_area OR tocsin_point_in_area(s.lat, s.lon, p_rec->'area')))
     ORDER BY s.id;
END
$$;

-- ---------------------------------------------------------------- grants

GRANT SELECT ON tocsin_admin_org_list, tocsin_admin_site_list, tocsin_admin_user_list
    TO tocsin_admin;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'tocsin_admin_org_add(text, text, text, text)',
        'tocsin_admin_org_disable(text, text)',
        'tocsin_admin_site_add(text, jsonb)',
        'tocsin_admin_site_update(text, text, jsonb)',
        'tocsin_admin_site_disable(text, text)',
        'tocsin_admin_user_add(text, text, text, text, text, text, boolean, text)',
        'tocsin_admin_user_set_disabled(text, text, boolean)',
        'tocsin_admin_user_set_password(text, text, text)',
        'tocsin_admin_device_add(text, text, text, text)',
        'tocsin_admin_device_revoke(text, text)',
        'tocsin_admin_alerts(timestamptz, integer)',
        'tocsin_admin_alert_show(text, bigint)',
        'tocsin_admin_board(text, text)'] LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO tocsin_admin', f);
    END LOOP;
END
$$;

-- tocsinctl adapter add|revoke (sql/012_adapters.sql) run as the caller
-- and name current_user in the audit: let tocsin_admin run them too.
DO $$
BEGIN
    IF to_regprocedure('tocsin_adapter_add(text, text, text)') IS NOT NULL THEN
        GRANT SELECT, INSERT, UPDATE ON adapters TO tocsin_admin;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tocsin_admin;
        GRANT EXECUTE ON FUNCTION tocsin_adapter_add(text, text, text) TO tocsin_admin;
    END IF;
    IF to_regprocedure('tocsin_adapter_revoke(text)') IS NOT NULL THEN
        GRANT EXECUTE ON FUNCTION tocsin_adapter_revoke(text) TO tocsin_admin;
    END IF;
END
$$;
