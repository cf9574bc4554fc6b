-- release.sql: two-person release of high-impact live alerts (issue 23;
-- the tables are in sql/migrations/046_release.sql).
--
-- The broker asks tocsin_release_check before it publishes a controller's
-- or analyst's alert; a held one becomes a pending_releases row
-- (tocsin_release_hold) and reaches nobody until another controller
-- approves it (tocsin_release_decide); then the broker publishes it
-- through tocsin_publish like any alert. A cancel is never held. Every
-- step writes an audit row: release_held, release_approved,
-- release_rejected, release_expired, release_alone, release_policy_set.
-- Errors carry SQLSTATE TS4xx and the field in COLUMN, as alerts.sql's.

-- Why the policy holds p_rec from p_user_id, or NULL when it does not;
-- and the sites it would reach (the preview's rule: tocsin_resolve_targets,
-- or the referenced alert's recipients for an update); and who may be the
-- second person (approver: controller or inspector, 063_inspector), which
-- the broker needs for break glass (is one signed in?).
CREATE OR REPLACE FUNCTION tocsin_release_check(p_user_id integer, p_rec jsonb)
RETURNS TABLE (held_because text, recipients integer[], expiry_s integer, approver text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p        release_policy%ROWTYPE;
    ref      alerts%ROWTYPE;
    v_type   text := COALESCE(p_rec->>'msg_type', 'alert');
    v_status text := p_rec->>'status';
    v_sev    text := p_rec->>'severity';
    v_tgt    jsonb := p_rec->'targets';
    v_sites  integer[];
    v_orgs   integer[];
    why      text[] := '{}';
BEGIN
    SELECT * INTO p FROM release_policy;
    IF v_type = 'cancel' OR NOT FOUND THEN
        RETURN; -- a cancel is never held: standing down must never wait
    END IF;
    IF v_type = 'update' THEN
        SELECT * INTO ref FROM alerts a WHERE a.id = (p_rec->>'references')::bigint;
        IF NOT FOUND THEN
            RETURN; -- tocsin_publish names the missing alert
        END IF;
        v_status := COALESCE(v_status, ref.status);
        v_sev := COALESCE(v_sev, ref.severity);
        v_tgt := ref.targets;
        v_sites := ARRAY(SELECT r.site_id FROM alert_recipients r WHERE r.alert_id = ref.id
                          ORDER BY r.site_id);
    ELSE
        v_sites := ARRAY(SELECT t.site_id FROM tocsin_resolve_targets(p_rec) t
                          WHERE t.included ORDER BY t.site_id);
    END IF;
    IF COALESCE(v_status, 'actual') <> 'actual' OR NOT (v_sev = ANY (p.severities)) THEN
        RETURN; -- exercises and tests never wait; nor do lesser severities
    END IF;
    IF cardinality(v_sites) > p.max_sites THEN
        why := why || format('it reaches %s sites (more than %s)', cardinality(v_sites),
                             p.max_sites);
    END IF;
    IF p.whole_sector AND jsonb_array_length(COALESCE(v_tgt->'sectors', '[]')) > 0 THEN
        why := why || 'it targets a whole sector'::text;
    END IF;
    v_orgs := tocsin_json_ints(v_tgt->'orgs');
    IF p.all_companies AND NOT EXISTS (
           SELECT 1 FROM organisations o
            WHERE o.kind = 'security_company' AND NOT o.disabled
              AND NOT (o.id = ANY (v_orgs))) THEN
        why := why || 'it goes to every security company'::text;
    END IF;
    IF cardinality(why) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT format('a live %s alert: %s', v_sev, array_to_string(why, '; ')),
                        v_sites, p.expiry_s, p.approver;
END
$$;

-- A pending release as the frames and tocsinctl show it: exactly what
-- will be sent (docs/protocol.md, release_pending).
CREATE OR REPLACE FUNCTION tocsin_release_json(r pending_releases)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'alert_id', r.alert_id, 'state', r.state, 'held_because', r.held_because,
        'held_at', tocsin_status_time(r.held_at), 'expires_at', tocsin_status_time(r.expires_at),
        'author', json_build_object('user_id', a.id, 'username', a.username,
                                    'display_name', a.display_name),
        'decided_by', CASE WHEN d.id IS NOT NULL THEN json_build_object(
                          'user_id', d.id, 'username', d.username,
                          'display_name', d.display_name) END,
        'decided_at', tocsin_status_time(r.decided_at), 'reason', r.reason,
        'recipient_count', cardinality(r.recipients),
        'recipients', (SELECT COALESCE(json_agg(json_build_object('site_id', s.id, 'name', s.name)
                                                 ORDER BY s.id), '[]')
                         FROM sites s WHERE s.id = ANY (r.recipients)),
        'alert', (r.rec - 'user_id' - 'remote' - 'at' - 'release_alone'))
      FROM users a LEFT JOIN users d ON d.id = r.decided_by
     WHERE a.id = r.author_user_id;
$$;

-- The audit row of one step of a release.
CREATE OR REPLACE FUNCTION tocsin_release_audit(p_action text, p_user_id integer,
                                                p_alert_id bigint, p_remote text,
                                                p_detail jsonb)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    SELECT p_action, u.id, u.username, u.role, u.org_id, p_alert_id, p_remote, p_detail
      FROM users u WHERE u.id = p_user_id;
$$;

-- Holds a publish: the row, the audit; the release as frames show it.
CREATE OR REPLACE FUNCTION tocsin_release_hold(p_alert_id bigint, p_user_id integer,
                                               p_rec jsonb, p_remote text, p_because text,
                                               p_recipients integer[])
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    r pending_releases%ROWTYPE;
BEGIN
    INSERT INTO pending_releases (alert_id, author_user_id, rec, held_because, recipients,
                                  expires_at)
    SELECT p_alert_id, p_user_id, p_rec, p_because, p_recipients,
           now() + make_interval(secs => p.expiry_s)
      FROM release_policy p
    RETURNING * INTO r;
    PERFORM tocsin_release_audit('release_held', p_user_id, p_alert_id, p_remote,
        jsonb_build_object('because', p_because, 'headline', p_rec->>'headline',
                           'severity', p_rec->>'severity', 'recipients', to_jsonb(p_recipients),
                           'expires_at', r.expires_at));
    RETURN tocsin_release_json(r);
END
$$;

-- Another controller approves or rejects, or a duty inspector (063): the
-- policy's approver 'controller' takes either, 'inspector' an inspector
-- only (TS403 otherwise). The author never may: the refusal is audited
-- (release_refused) and answered as a row with refused set, not an error,
-- so that its audit row is kept. Only a pending, unexpired release may be
-- decided (TS409, COLUMN state). Returns the record to publish and its
-- author.
CREATE OR REPLACE FUNCTION tocsin_release_decide(p_alert_id bigint, p_user_id integer,
                                                 p_approve boolean, p_reason text,
                                                 p_remote text)
RETURNS TABLE (rec jsonb, author_user_id integer, author_username text,
               author_org_id integer, author_role text, release json, refused text)
LANGUAGE plpgsql AS $$
DECLARE
    r pending_releases%ROWTYPE;
    u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users x WHERE x.id = p_user_id AND NOT x.disabled;
    IF NOT FOUND OR u.role NOT IN ('controller', 'inspector') THEN
        RAISE EXCEPTION 'only a controller or an inspector may release or reject a held alert'
            USING ERRCODE = 'TS403';
    END IF;
    IF u.role <> 'inspector' AND (SELECT p.approver FROM release_policy p) = 'inspector' THEN
        RAISE EXCEPTION 'the release policy asks a duty inspector to release or reject held alerts'
            USING ERRCODE = 'TS403';
    END IF;
    SELECT * INTO r FROM pending_releases x WHERE x.alert_id = p_alert_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no held alert %', p_alert_id USING ERRCODE = 'TS404',
            COLUMN = 'alert_id';
    END IF;
    IF r.author_user_id = p_user_id THEN
        PERFORM tocsin_release_audit('release_refused', p_user_id, p_alert_id, p_remote,
            jsonb_build_object('why', 'the author', 'approve', p_approve));
        RETURN QUERY SELECT NULL::jsonb, r.author_user_id, NULL::text, NULL::integer,
            NULL::text, NULL::json,
            'you wrote this alert: another person must release or reject it'::text;
        RETURN;
    END IF;
    IF r.state <> 'pending' OR r.expires_at <= now() THEN
        RAISE EXCEPTION 'alert % is no longer waiting (%)', p_alert_id,
            CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END
            USING ERRCODE = 'TS409', COLUMN = 'state';
    END IF;
    UPDATE pending_releases x
       SET state = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END,
           decided_by = p_user_id, decided_at = now(), reason = p_reason
     WHERE x.alert_id = p_alert_id
    RETURNING * INTO r;
    PERFORM tocsin_release_audit(CASE WHEN p_approve THEN 'release_approved'
                                      ELSE 'release_rejected' END,
                                 p_user_id, p_alert_id, p_remote,
                                 jsonb_build_object('author', r.author_user_id,
                                                    'reason', p_reason));
    RETURN QUERY
    SELECT r.rec, a.id, a.username, a.org_id, a.role, tocsin_release_json(r), NULL::text
      FROM users a WHERE a.id = r.author_user_id;
END
$$;

-- Ends every release whose time is up (the broker's job, handle/release.c).
CREATE OR REPLACE FUNCTION tocsin_release_expire()
RETURNS TABLE (alert_id bigint, author_user_id integer, release json)
LANGUAGE plpgsql AS $$
DECLARE
    r pending_releases%ROWTYPE;
BEGIN
    FOR r IN UPDATE pending_releases x SET state = 'expired', decided_at = now()
              WHERE x.state = 'pending' AND x.expires_at <= now() RETURNING * LOOP
        INSERT INTO audit (action, actor_username, actor_role, alert_id, detail)
        VALUES ('release_expired', 'tocsind', 'broker', r.alert_id,
                jsonb_build_object('author', r.author_user_id, 'held_at', r.held_at));
        alert_id := r.alert_id;
        author_user_id := r.author_user_id;
        release := tocsin_release_json(r);
        RETURN NEXT;
    END LOOP;
END
$$;

-- Break glass: no other controller is signed in, the author releases
-- alone with a justification. Recorded (and audited) before it is
-- published, so that a delivered alert is never missing from the review.
CREATE OR REPLACE FUNCTION tocsin_release_alone(p_alert_id bigint, p_user_id integer,
                                                p_rec jsonb, p_because text,
                                                p_recipients integer[],
                                                p_justification text, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    r pending_releases%ROWTYPE;
BEGIN
    IF p_justification IS NULL OR length(btrim(p_justification)) NOT BETWEEN 10 AND 1000 THEN
        RAISE EXCEPTION 'release_alone.justification must be 10 to 1000 characters'
            USING ERRCODE = 'TS422', COLUMN = 'release_alone.justification';
    END IF;
    INSERT INTO pending_releases (alert_id, author_user_id, rec, held_because, recipients,
                                  state, expires_at, decided_by, decided_at, reason)
    VALUES (p_alert_id, p_user_id, p_rec, p_because, p_recipients, 'released_alone', now(),
            p_user_id, now(), btrim(p_justification))
    RETURNING * INTO r;
    PERFORM tocsin_release_audit('release_alone', p_user_id, p_alert_id, p_remote,
        jsonb_build_object('because', p_because, 'justification', r.reason,
                           'headline', p_rec->>'headline'));
    RETURN tocsin_release_json(r);
END
$$;

-- What a controller signing in must see: every release still waiting,
-- and those released alone in the last 24 hours (for review).
CREATE OR REPLACE FUNCTION tocsin_release_open()
RETURNS SETOF json
LANGUAGE sql STABLE AS $$
    SELECT tocsin_release_json(r) FROM pending_releases r
     WHERE (r.state = 'pending' AND r.expires_at > now())
        OR (r.state = 'released_alone' AND r.decided_at > now() - interval '24 hours')
     ORDER BY r.held_at;
$$;

-- tocsinctl release report: every release of a time window.
CREATE OR REPLACE FUNCTION tocsin_release_report(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (alert_id bigint, state text, held_at timestamptz, author text,
               decided_by text, decided_at timestamptz, reason text, headline text,
               held_because text)
LANGUAGE sql STABLE AS $$
    SELECT r.alert_id, r.state, r.held_at, a.username, d.username, r.decided_at, r.reason,
           r.rec->>'headline', r.held_because
      FROM pending_releases r JOIN users a ON a.id = r.author_user_id
      LEFT JOIN users d ON d.id = r.decided_by
     WHERE r.held_at >= p_from AND r.held_at < p_to
     ORDER BY r.held_at;
$$;

-- tocsinctl policy set: NULL keeps a value. Audited (release_policy_set).
CREATE OR REPLACE FUNCTION tocsin_release_policy_set(p_actor text, p_severities text[],
                                                     p_max_sites integer,
                                                     p_whole_sector boolean,
                                                     p_all_companies boolean,
                                                     p_expiry_s integer,
                                                     p_approver text)
RETURNS SETOF release_policy
LANGUAGE plpgsql AS $$
DECLARE
    old release_policy%ROWTYPE;
    new release_policy%ROWTYPE;
BEGIN
    SELECT * INTO old FROM release_policy FOR UPDATE;
    IF p_severities IS NOT NULL AND NOT p_severities <@ '{minor,moderate,severe,extreme}' THEN
        RAISE EXCEPTION 'severities must be among minor, moderate, severe, extreme'
            USING ERRCODE = 'TS422', COLUMN = 'severities';
    END IF;
    IF p_approver IS NOT NULL AND p_approver NOT IN ('controller', 'inspector') THEN
        RAISE EXCEPTION 'approver must be controller or inspector'
            USING ERRCODE = 'TS422', COLUMN = 'approver';
    END IF;
    UPDATE release_policy
       SET severities = COALESCE(p_severities, severities),
           max_sites = COALESCE(p_max_sites, max_sites),
           whole_sector = COALESCE(p_whole_sector, whole_sector),
           all_companies = COALESCE(p_all_companies, all_companies),
           expiry_s = COALESCE(p_expiry_s, expiry_s),
           approver = COALESCE(p_approver, approver),
           updated_at = now(), updated_by = tocsin_admin_actor(p_actor)
    RETURNING * INTO new;
    PERFORM tocsin_admin_audit(tocsin_admin_actor(p_actor), 'release_policy_set', NULL, NULL,
        jsonb_build_object('before', to_jsonb(old) - 'one', 'after', to_jsonb(new) - 'one'));
    RETURN NEXT new;
END
$$;

REVOKE EXECUTE ON FUNCTION
    tocsin_release_check(integer, jsonb),
    tocsin_release_json(pending_releases),
    tocsin_release_audit(text, integer, bigint, text, jsonb),
    tocsin_release_hold(bigint, integer, jsonb, text, text, integer[]),
    tocsin_release_decide(bigint, integer, boolean, text, text),
    tocsin_release_expire(),
    tocsin_release_alone(bigint, integer, jsonb, text, integer[], text, text),
    tocsin_release_open(),
    tocsin_release_report(timestamptz, timestamptz),
    tocsin_release_policy_set(text, text[], integer, boolean, boolean, integer, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_release_check(integer, jsonb),
    tocsin_release_json(pending_releases),
    tocsin_release_audit(text, integer, bigint, text, jsonb),
    tocsin_release_hold(bigint, integer, jsonb, text, text, integer[]),
    tocsin_release_decide(bigint, integer, boolean, text, text),
    tocsin_release_expire(),
    tocsin_release_alone(bigint, integer, jsonb, text, integer[], text, text),
    tocsin_release_open()
    TO tocsin_broker;
GRANT EXECUTE ON FUNCTION
    tocsin_release_json(pending_releases),
    tocsin_release_report(timestamptz, timestamptz),
    tocsin_release_policy_set(text, text[], integer, boolean, boolean, integer, text)
    TO tocsin_admin;
