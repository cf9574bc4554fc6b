-- 018_user_update.sql: tocsinctl user update: change an existing user's
-- role, organisation, site, clearance for OFFICIAL-SENSITIVE or display
-- name (issue #5).
--
-- Same conventions as 014: one SECURITY DEFINER function that only the role
-- tocsin_admin may run, which checks, changes and audits in one
-- transaction (audit action user_updated, with each changed field's old and
-- new value), and typed errors (TS404 not found, TS409 conflict, TS422
-- invalid; COLUMN names the field).
--
-- Revocation: a token carries the user's role, organisation, site and
-- clearance, so a change to any of them bumps users.tokens_valid_after
-- here, in the admin function: the broker's revocation sweep closes the
-- user's live sessions with auth_revoked / 4401 within seconds, and the
-- user signs in again with the new claims. A new display name is not in
-- the token and ends no session. This is deliberately not a trigger on
-- users: tests (and scripts) that change a clearance directly in SQL and
-- then mint a token in the same second would find that token revoked
-- (011: a token of the bump's second is treated as revoked).

-- p_fields: a JSON object with any of role, org (id or exact name), site
-- (slug or id), cleared (boolean) and display_name. A console's
-- organisation follows a new site's guarding company unless org is given;
-- a user that stops being a site_console loses its site.
CREATE FUNCTION tocsin_admin_user_update(p_actor text, p_username text, p_fields jsonb)
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
                                                   'site_console', 'admin') THEN
            RAISE EXCEPTION 'the role must be controller, analyst, company_operator, site_console or admin'
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

REVOKE EXECUTE ON FUNCTION tocsin_admin_user_update(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_admin_user_update(text, text, jsonb) TO tocsin_admin;
