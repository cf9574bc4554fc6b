-- 020_operator_receipts.sql: a company desk sees its own sites' receipts
-- of the alerts that reached them (issue #7 / #5).
--
-- Until now only the sending organisation's desk (and the organisation that
-- sent the original of a relay, and admins) could read an alert's receipts.
-- A company operator may now also ask for the receipts of an alert that
-- reached at least one site its company guards, provided the company was
-- sent the alert itself (company_operator among its target_roles, and the
-- operator cleared when it is OFFICIAL-SENSITIVE: the same gates as
-- receiving it, sql/006 tocsin_resume). Such a reply is scoped to the
-- company's own sites: their rows, a tally and not_acknowledged computed
-- over them only, and only the company's own relays. Nothing about another
-- company's sites, relays or totals is in it.
--
-- Every reply now also carries each site's latest answer and a tally over
-- the sites it lists, and says its scope ('all' or 'own_sites'); the audit
-- row (view_receipts) of an own_sites read says so.
--
-- tocsin_receipt_audience: which receipts the broker may push live to the
-- desk of the company guarding the site (site_receipt frames).

-- 'all' (the sending desk, the original's sender of a relay, admin),
-- 'own_sites' (a company whose guarded sites the alert reached), or NULL
-- (not allowed).
CREATE FUNCTION tocsin_receipts_scope(p_user_id integer, p_alert_id bigint)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
             WHEN tocsin_receipts_allowed(p_user_id, p_alert_id) THEN 'all'
             WHEN EXISTS (
                 SELECT 1 FROM users u, alerts a
                  WHERE u.id = p_user_id AND NOT u.disabled AND a.id = p_alert_id
                    AND u.role = 'company_operator'
                    AND 'company_operator' = ANY (a.target_roles)
                    AND (a.classification <> 'OFFICIAL-SENSITIVE' OR u.cleared_sensitive)
                    AND EXISTS (SELECT 1 FROM alert_recipients r
                                  JOIN sites s ON s.id = r.site_id
                                 WHERE r.alert_id = a.id AND s.guard_org_id = u.org_id))
               THEN 'own_sites'
           END;
$$;

-- The receipts a user may see (see above); raises TS404 for an unknown
-- alert and TS403 when the user may not see any of them.
CREATE OR REPLACE FUNCTION tocsin_receipts(p_user_id integer, p_alert_id bigint)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    scope text;
    own   integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert_id) THEN
        RAISE EXCEPTION 'no alert with id %', p_alert_id
            USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    scope := tocsin_receipts_scope(p_user_id, p_alert_id);
    IF scope IS NULL THEN
        RAISE EXCEPTION 'only the sending organisation, or a company whose sites it reached, may see these receipts'
            USING ERRCODE = 'TS403';
    END IF;
    IF scope = 'own_sites' THEN
        SELECT org_id INTO own FROM users WHERE id = p_user_id;
    END IF;
    RETURN (
        WITH per_site AS (
            SELECT r.site_id, s.name AS site_name, s.guard_org_id,
                   (SELECT d.first_at FROM delivered_sites d
                     WHERE d.alert_id = r.alert_id AND d.site_id = r.site_id) AS delivered_at,
                   x.read_at, k.acked_at, e.escalated_at,
                   w.answer, w.answered_at
              FROM alert_recipients r
              JOIN sites s ON s.id = r.site_id
              LEFT JOIN reads x ON x.alert_id = r.alert_id AND x.site_id = r.site_id
              LEFT JOIN acks k ON k.alert_id = r.alert_id AND k.site_id = r.site_id
              LEFT JOIN escalations e ON e.alert_id = r.alert_id AND e.site_id = r.site_id
              LEFT JOIN LATERAL (
                  SELECT COALESCE(n.choice, n.number::text) AS answer, n.answered_at
                    FROM answers n
                   WHERE n.alert_id = r.alert_id AND n.site_id = r.site_id
                   ORDER BY n.id DESC LIMIT 1) w ON true
             WHERE r.alert_id = p_alert_id
               AND (own IS NULL OR s.guard_org_id = own))
        SELECT json_build_object(
            'scope', scope,
            'sites', COALESCE(json_agg(json_build_object(
                'site_id', site_id, 'site_name', site_name, 'guard_org_id', guard_org_id,
                'delivered_at', to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'read_at', to_char(read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'acked_at', to_char(acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'escalated_at', to_char(escalated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'answer', answer,
                'answered_at', to_char(answered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                ORDER BY site_name), '[]'::json),
            'tally', json_build_object(
                'recipients', count(*),
                'delivered', count(*) FILTER (WHERE delivered_at IS NOT NULL),
                'read', count(*) FILTER (WHERE read_at IS NOT NULL),
                'acknowledged', count(*) FILTER (WHERE acked_at IS NOT NULL),
                'escalated', count(*) FILTER (WHERE escalated_at IS NOT NULL),
                'answered', count(*) FILTER (WHERE answered_at IS NOT NULL)),
            'not_acknowledged', COALESCE(json_agg(site_id ORDER BY site_id)
                                         FILTER (WHERE acked_at IS NULL), '[]'::json),
            'relays', COALESCE((SELECT json_agg(json_build_object(
                          'alert_id', x.id, 'by_org_id', x.sender_org_id, 'note', x.relay_note,
                          'sites', (SELECT json_agg(r2.site_id ORDER BY r2.site_id)
                                      FROM alert_recipients r2 WHERE r2.alert_id = x.id))
                          ORDER BY x.id)
                                  FROM alerts x
                                 WHERE x.relay_of = p_alert_id
                                   AND (own IS NULL OR x.sender_org_id = own)), '[]'::json))
          FROM per_site);
END
$$;

-- Audited as before (sql/015); a company desk's read of its own sites
-- says so ("scope": "own_sites"; a full read's detail is unchanged).
CREATE OR REPLACE FUNCTION tocsin_receipts(p_user_id integer, p_alert_id bigint, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    receipts json := tocsin_receipts(p_user_id, p_alert_id);
BEGIN
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    SELECT 'view_receipts', u.id, u.username, u.role, u.org_id, p_alert_id, u.site_id,
           p_remote,
           jsonb_build_object('sites', json_array_length(receipts->'sites'),
                              'relays', json_array_length(receipts->'relays'))
           || CASE WHEN receipts->>'scope' = 'own_sites'
                   THEN jsonb_build_object('scope', 'own_sites') ELSE '{}'::jsonb END
      FROM users u WHERE u.id = p_user_id;
    RETURN receipts;
END
$$;

-- Of the new receipts (alert, site) in a batch, by position (1-based),
-- those the guarding company's desk is told about live: the alert was sent
-- to company operators (or is the company's own relay), with the company,
-- the site's name and whether only cleared operators may see it.
CREATE FUNCTION tocsin_receipt_audience(p_alerts bigint[], p_sites integer[])
RETURNS TABLE (idx integer, guard_org_id integer, site_name text, sensitive boolean)
LANGUAGE sql STABLE AS $$
    SELECT p.i::integer, s.guard_org_id, s.name, a.classification = 'OFFICIAL-SENSITIVE'
      FROM unnest(p_alerts, p_sites) WITH ORDINALITY AS p (alert_id, site_id, i)
      JOIN alerts a ON a.id = p.alert_id
      JOIN sites s ON s.id = p.site_id
     WHERE s.guard_org_id IS NOT NULL
       AND ('company_operator' = ANY (a.target_roles) OR a.sender_org_id = s.guard_org_id)
     ORDER BY p.i;
$$;

GRANT EXECUTE ON FUNCTION tocsin_receipts_scope(integer, bigint),
                          tocsin_receipts(integer, bigint),
                          tocsin_receipts(integer, bigint, text),
                          tocsin_receipt_audience(bigint[], integer[])
    TO tocsin_broker;
