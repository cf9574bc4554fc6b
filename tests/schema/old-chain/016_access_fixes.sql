-- 016_access_fixes.sql: two holes found by walking the access matrix
-- (docs/security.md, tests/e2e/50-access-matrix.test.mjs).
--
-- 1. /api/images took a revoked token (users.tokens_valid_after bumped,
--    e.g. a lost console device) until the token expired, up to
--    --token-ttl later: the WebSocket side closes such sessions within
--    seconds, but an image fetch or upload never asked. The broker now
--    calls tocsin_image_fetch_token / tocsin_image_store_token with the
--    token's iat: a revoked or disabled user's token is refused
--    (401 auth_revoked), and a refused fetch is audited as
--    image_view_refused with status "revoked".
-- 2. A company operator could relay an alert that was never sent to it:
--    one the force aimed at site consoles only (targets.roles), or an
--    OFFICIAL-SENSITIVE one while the operator is not cleared. A company
--    now passes on only what it was sent itself (TS403, forbidden).

-- The token of p_user issued at p_iat is still good (not revoked, user
-- enabled and present), or TS401 naming why.
CREATE FUNCTION tocsin_token_gate(p_user integer, p_iat bigint)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user, p_iat) c;
    IF v IS DISTINCT FROM 'ok' THEN
        RAISE EXCEPTION 'the token is no longer valid (%); sign in again', v
            USING ERRCODE = 'TS401';
    END IF;
END
$$;

-- tocsin_image_store for a bearer token issued at p_iat.
CREATE FUNCTION tocsin_image_store_token(p_id text, p_user_id integer, p_iat bigint,
                                         p_mime text, p_content bytea, p_sha256 text,
                                         p_remote text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tocsin_token_gate(p_user_id, p_iat);
    RETURN tocsin_image_store(p_id, p_user_id, p_mime, p_content, p_sha256, p_remote);
END
$$;

-- tocsin_image_fetch for a bearer token issued at p_iat; a revoked token
-- gets status 'revoked', audited like any other refusal.
CREATE FUNCTION tocsin_image_fetch_token(p_image text, p_user_id integer, p_iat bigint,
                                         p_remote text)
RETURNS TABLE (mime text, content bytea, status text)
LANGUAGE plpgsql AS $$
DECLARE
    v  text;
    u  users%ROWTYPE;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user_id, p_iat) c;
    IF v = 'ok' THEN
        RETURN QUERY SELECT * FROM tocsin_image_fetch(p_image, p_user_id, p_remote);
        RETURN;
    END IF;
    SELECT * INTO u FROM users WHERE id = p_user_id;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES ('image_view_refused', u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('image_id', p_image, 'status', 'revoked', 'token', v,
                               'alerts', '[]'::jsonb, 'user_id', p_user_id));
    RETURN QUERY SELECT NULL::text, NULL::bytea, 'revoked'::text;
END
$$;

-- tocsin_relay as in 006, with the two checks marked "new in 016".
CREATE OR REPLACE FUNCTION tocsin_relay(p_alert_id bigint, p_user_id integer, p_of bigint,
                             p_sites integer[], p_note text, p_remote text)
RETURNS TABLE (alert_id bigint, seq bigint, recipient_sites integer[], sender_org_id integer,
               sender_org_name text, watcher_org_id integer, classification text,
               alert json)
LANGUAGE plpgsql AS $$
DECLARE
    u     users%ROWTYPE;
    o     alerts%ROWTYPE;
    a     alerts%ROWTYPE;
    pos   bigint;
    bad   integer;
    idx   integer;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role <> 'company_operator' THEN
        RAISE EXCEPTION 'only a company operator relays alerts' USING ERRCODE = 'TS403';
    END IF;
    SELECT * INTO o FROM alerts WHERE id = p_of;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no alert with id %', p_of USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                    WHERE r.alert_id = p_of AND s.guard_org_id = u.org_id) THEN
        RAISE EXCEPTION 'alert % did not reach any site your company guards', p_of
            USING ERRCODE = 'TS403';
    END IF;
    -- new in 016: a company passes on only what it was sent itself
    IF NOT ('company_operator' = ANY (o.target_roles)) THEN
        RAISE EXCEPTION 'alert % was not sent to company operators', p_of
            USING ERRCODE = 'TS403';
    END IF;
    IF o.classification = 'OFFICIAL-SENSITIVE' AND NOT u.cleared_sensitive THEN
        RAISE EXCEPTION 'alert % is OFFICIAL-SENSITIVE and you are not cleared for it', p_of
            USING ERRCODE = 'TS403';
    END IF;
    IF o.cancelled_at IS NOT NULL OR o.msg_type = 'cancel' THEN
        RAISE EXCEPTION 'alert % is cancelled', p_of USING ERRCODE = 'TS422', COLUMN = 'alert_id';
    END IF;
    IF o.expires <= clock_timestamp() THEN
        RAISE EXCEPTION 'alert % has expired', p_of USING ERRCODE = 'TS422', COLUMN = 'alert_id';
    END IF;
    SELECT x.s, x.i INTO bad, idx FROM unnest(p_sites) WITH ORDINALITY AS x(s, i)
     WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = x.s AND guard_org_id = u.org_id)
     ORDER BY x.i LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'site % is not guarded by your company', bad
            USING ERRCODE = 'TS422', COLUMN = format('sites[%s]', idx - 1);
    END IF;

    UPDATE stream_meta SET head = head + 1 RETURNING head INTO pos;
    INSERT INTO alerts (id, seq, sender_user_id, sender_org_id, headline, body, severity,
                        targets, status, msg_type, category, urgency, certainty, instruction,
                        effective, expires, area, classification, handling, request,
                        target_roles, relay_of, relay_note)
    VALUES (p_alert_id, pos, u.id, u.org_id, o.headline, o.body, o.severity,
            jsonb_build_object('sites', to_jsonb(p_sites)), o.status, 'alert', o.category,
            o.urgency, o.certainty, o.instruction, o.effective, o.expires, o.area,
            o.classification, o.handling, o.request, '{site_console}', o.id, p_note)
    RETURNING * INTO a;
    INSERT INTO alert_recipients (alert_id, site_id)
    SELECT a.id, s.id FROM sites s
     WHERE s.guard_org_id = u.org_id
       AND (cardinality(p_sites) = 0 OR s.id = ANY (p_sites))
       AND (a.classification <> 'OFFICIAL-SENSITIVE' OR s.cleared_sensitive);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the relay reaches no site' USING ERRCODE = 'TS422', COLUMN = 'sites';
    END IF;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    VALUES (a.sent_at, 'relay', u.id, u.username, u.role, u.org_id, a.id, p_remote,
            jsonb_build_object('of', o.id, 'note', p_note,
                               'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                FROM alert_recipients r WHERE r.alert_id = a.id)));
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, detail)
    SELECT a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id, r.site_id,
           jsonb_build_object('relay_of', o.id)
      FROM alert_recipients r WHERE r.alert_id = a.id;

    RETURN QUERY
    SELECT a.id, a.seq,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           u.org_id, (SELECT name FROM organisations WHERE id = u.org_id), o.sender_org_id,
           a.classification, tocsin_alert_json(a.id);
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_token_gate(integer, bigint),
    tocsin_image_store_token(text, integer, bigint, text, bytea, text, text),
    tocsin_image_fetch_token(text, integer, bigint, text)
    TO tocsin_broker;
