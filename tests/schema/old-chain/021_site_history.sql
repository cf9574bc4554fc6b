-- 021_site_history.sql: a site's history, read and audited as one
-- consultation (issue #5, "view a site's history"; DPA 2018 s.62).
--
-- tocsin_site_history() returns the site (id, name, guarding company), its
-- building status reports and the alerts it received, newest first, and
-- writes one audit row 'view_site_history' (who, from where, which site,
-- how many rows) in the same transaction as the read. A refused request
-- raises before anything is written. Scope (docs/protocol.md):
--   controller, analyst  any site (TS404 'site_id' when there is none);
--   company_operator     the sites its company guards (TS403 otherwise,
--                        also for ids that name no site: no enumeration);
--   site_console         its own site only (TS403 otherwise);
--   admin                refused, as the status board is (TS403).

-- One status report of the history, every field of the report and who
-- made it.
CREATE FUNCTION tocsin_site_history_report(r status_reports, p_by text)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'report_id', r.id, 'people', r.people, 'officers', r.officers,
        'trauma_packs', r.trauma_packs, 'first_aid_kits', r.first_aid_kits,
        'defibrillators', r.defibrillators, 'cctv', r.cctv, 'state', r.state,
        'note', r.note,
        'in_reply_to', CASE WHEN r.in_reply_to IS NOT NULL THEN 'r-' || r.in_reply_to END,
        'reported_by', p_by, 'reported_at', tocsin_status_time(r.reported_at));
$$;

-- The history itself. p_before (NULL: now) pages both lists: only rows
-- strictly older than it (compared at millisecond precision, the
-- precision the times are written in). p_limit bounds each list.
CREATE FUNCTION tocsin_site_history(p_user_id integer, p_site_id integer, p_limit integer,
                                    p_before timestamptz, p_remote text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u         users%ROWTYPE;
    s         sites%ROWTYPE;
    own       text;
    redact    boolean;
    v_reports json;
    v_alerts  json;
    n_reports integer;
    n_alerts  integer;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role NOT IN ('controller', 'analyst', 'company_operator',
                                   'site_console') THEN
        RAISE EXCEPTION 'this user may not see a site''s history' USING ERRCODE = 'TS403';
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'limit must be 1 to 200' USING ERRCODE = 'TS422', COLUMN = 'limit';
    END IF;
    SELECT * INTO s FROM sites WHERE id = p_site_id;
    own := CASE u.role WHEN 'company_operator' THEN 'org'
                       WHEN 'site_console' THEN 'site' ELSE 'all' END;
    IF own = 'org' AND (NOT FOUND OR s.guard_org_id <> u.org_id) THEN
        RAISE EXCEPTION 'a company operator sees the history of its company''s sites only'
            USING ERRCODE = 'TS403';
    ELSIF own = 'site' AND (NOT FOUND OR u.site_id IS DISTINCT FROM s.id) THEN
        RAISE EXCEPTION 'a site console sees its own site''s history only'
            USING ERRCODE = 'TS403';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'no site %', p_site_id USING ERRCODE = 'TS404', COLUMN = 'site_id';
    END IF;
    -- An operator not cleared for OFFICIAL-SENSITIVE does not see such
    -- headlines; the force and the site's own console (which received
    -- them) do.
    redact := own = 'org' AND NOT COALESCE(u.cleared_sensitive, false);

    SELECT COALESCE(json_agg(h.j ORDER BY h.reported_at DESC, h.id DESC), '[]'::json), count(*)
      INTO v_reports, n_reports
      FROM (SELECT r.id, r.reported_at,
                   tocsin_site_history_report(r, ru.username) AS j
              FROM status_reports r JOIN users ru ON ru.id = r.user_id
             WHERE r.site_id = s.id
               AND (p_before IS NULL OR date_trunc('milliseconds', r.reported_at) < p_before)
             ORDER BY r.reported_at DESC, r.id DESC
             LIMIT p_limit) h;

    SELECT COALESCE(json_agg(h.j ORDER BY h.sent_at DESC, h.id DESC), '[]'::json), count(*)
      INTO v_alerts, n_alerts
      FROM (SELECT a.id, a.sent_at,
                   json_build_object(
                       'alert_id', a.id,
                       'headline', CASE WHEN redact AND a.classification = 'OFFICIAL-SENSITIVE'
                                        THEN NULL ELSE a.headline END,
                       'severity', a.severity, 'status', a.status, 'msg_type', a.msg_type,
                       'relay_of', a.relay_of,
                       'classification', a.classification,
                       'sent_at', tocsin_status_time(a.sent_at),
                       'delivered_at', tocsin_status_time(d.first_at),
                       'read_at', tocsin_status_time(x.read_at),
                       'acked_at', tocsin_status_time(k.acked_at),
                       'answer', COALESCE(w.choice, w.number::text),
                       'answered_at', tocsin_status_time(w.answered_at)) AS j
              FROM alert_recipients ar
              JOIN alerts a ON a.id = ar.alert_id
              LEFT JOIN delivered_sites d ON d.alert_id = a.id AND d.site_id = s.id
              LEFT JOIN reads x ON x.alert_id = a.id AND x.site_id = s.id
              LEFT JOIN acks k ON k.alert_id = a.id AND k.site_id = s.id
              LEFT JOIN LATERAL (SELECT x2.choice, x2.number, x2.answered_at FROM answers x2
                                  WHERE x2.alert_id = a.id AND x2.site_id = s.id
                                  ORDER BY x2.id DESC LIMIT 1) w ON true
             WHERE ar.site_id = s.id
               AND (p_before IS NULL OR date_trunc('milliseconds', a.sent_at) < p_before)
             ORDER BY a.sent_at DESC, a.id DESC
             LIMIT p_limit) h;

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES ('view_site_history', u.id, u.username, u.role, u.org_id, s.id, p_remote,
            jsonb_build_object('scope', own, 'reports', n_reports, 'alerts', n_alerts,
                               'rows', n_reports + n_alerts, 'limit', p_limit,
                               'before', tocsin_status_time(p_before)));

    RETURN json_build_object(
        'site', json_build_object('site_id', s.id, 'name', s.name,
                                  'slug', to_jsonb(s)->>'slug',
                                  'guard_org_id', s.guard_org_id,
                                  'guard_org', (SELECT o.name FROM organisations o
                                                 WHERE o.id = s.guard_org_id)),
        'reports', v_reports,
        'alerts', v_alerts);
END
$$;

-- s.62: a site's history is a consultation. 'view_*' already falls there
-- by pattern; it is named here so that the mapping does not hang on the
-- pattern alone. The rest is 015's mapping unchanged.
CREATE OR REPLACE FUNCTION tocsin_audit_category(p_action text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_action IN ('read', 'image_view', 'image_view_refused', 'view_board',
                          'view_area_totals', 'view_inbox', 'view_receipts', 'view_alert',
                          'view_site_history', 'cap_export', 'cap_export_refused')
             OR p_action LIKE 'view\_%' THEN 'consultation'
        WHEN p_action IN ('disclose', 'deliver', 'relay', 'escalate', 'audit_export')
             OR p_action LIKE '%\_export' THEN 'disclosure'
        WHEN p_action IN ('image_erased') OR p_action LIKE '%\_erased'
             OR p_action LIKE '%\_deleted' THEN 'erasure'
        WHEN p_action IN ('update', 'cancel') OR p_action LIKE '%\_updated'
             OR p_action LIKE '%\_disabled' OR p_action LIKE '%\_enabled'
             OR p_action LIKE '%\_set' OR p_action LIKE '%\_revoked'
             OR p_action IN ('adapter_revoke') THEN 'alteration'
        WHEN p_action IN ('image_attach') THEN 'combination'
        WHEN p_action IN ('publish', 'ack', 'answer', 'status_report', 'partner_report',
                          'image_upload', 'report_now', 'adapter_submit', 'adapter_add')
             OR p_action LIKE '%\_added' THEN 'collection'
        WHEN p_action IN ('signin', 'signin_failed', 'signin_locked', 'adapter_refused')
            THEN 'access'
        ELSE 'other'
    END;
$$;

REVOKE EXECUTE ON FUNCTION tocsin_site_history(integer, integer, integer, timestamptz, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_site_history_report(status_reports, text),
                          tocsin_site_history(integer, integer, integer, timestamptz, text)
    TO tocsin_broker;
