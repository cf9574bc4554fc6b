-- nodes.sql: several brokers on one database (issue 20; docs/operations.md,
-- "Two nodes"). PostgreSQL stays the one source of order: what a broker
-- commits is announced to the others with NOTIFY, as a wake-up that
-- carries only positions or ids, and each broker reads what it missed
-- with a query of its own (broker/io/peers.c listens, broker/handle/nodes.c
-- reads). The channels, and who announces on them, at commit:
--
--   tocsin_alerts       the stream position of each new alert
--                       (tocsin_publish, tocsin_relay; a journal's
--                       write-back too, through tocsin_publish)
--   tocsin_receipts     the alerts whose tallies changed: a receipt batch,
--                       a delivery batch, acks and reads written back
--   tocsin_status       the status reports of a stored batch
--   tocsin_requests     a report-now request (the sites it asks)
--   tocsin_reports      the partner reports stored
--   tocsin_escalations  the (alert:site) pairs claimed by an escalation
--   (account changes need no channel: every broker's revocation sweep
--   asks PostgreSQL every 2 s which accounts changed, a user disabled on
--   one node is cut off on all within that)
--
-- One NOTIFY per transaction and channel (a batch, not a row): PostgreSQL
-- serialises the commits of transactions that notified on one lock, so a
-- notification per delivery would put every delivery batch behind it.
-- Measured on this machine (2 cores, PostgreSQL 15, pgbench -c 4 -T 10, a
-- transaction of one INSERT with and without a NOTIFY, a LISTEN connection
-- draining): see docs/operations.md ("When another transport").
--
-- The singletons (the audit sealer and escalation) run on the
-- broker that holds the leader's advisory lock, and a broker holds the lock
-- of its node id while it lives, so that two brokers never share an id
-- (their alert ids would collide: broker/base/ids.h). Both are session
-- locks on the LISTEN connection: they go when that session ends.

-- The advisory locks' first key: 'tocs' (0x746f6373); the second is the
-- node id (0-15) or 1000 for the leader.
CREATE OR REPLACE FUNCTION tocsin_lock_class() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 1953457011 $$;

-- This database's oid: advisory locks are per database, pg_locks lists the
-- whole cluster's (other databases' brokers are not this one's nodes).
CREATE OR REPLACE FUNCTION tocsin_db_oid() RETURNS oid
LANGUAGE sql STABLE AS $$ SELECT oid FROM pg_database WHERE datname = current_database() $$;

-- Sends p_items (ids or "alert:site" pairs; duplicates and NULLs dropped)
-- on p_channel, comma-separated, in as few notifications as the payload's
-- limit allows (8,000 bytes; 7,900 here). No items sends one empty
-- payload: a bare wake-up.
CREATE OR REPLACE FUNCTION tocsin_notify(p_channel text, p_items text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    item    text;
    payload text := '';
BEGIN
    FOR item IN SELECT DISTINCT x FROM unnest(p_items) AS x WHERE x IS NOT NULL ORDER BY 1 LOOP
        IF length(payload) + length(item) + 1 > 7900 THEN
            PERFORM pg_notify(p_channel, payload);
            payload := '';
        END IF;
        payload := payload || CASE WHEN payload = '' THEN '' ELSE ',' END || item;
    END LOOP;
    IF payload <> '' OR COALESCE(cardinality(p_items), 0) = 0 THEN
        PERFORM pg_notify(p_channel, payload);
    END IF;
END
$$;

-- Takes node p_node's lock for this session: NULL when it is ours, else
-- who holds it (for the log of the broker that must not start).
CREATE OR REPLACE FUNCTION tocsin_node_claim(p_node integer)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_lock(tocsin_lock_class(), p_node) THEN
        RETURN NULL;
    END IF;
    RETURN COALESCE((SELECT format('the session of pid %s (%s, from %s, since %s)', l.pid,
                                   COALESCE(a.application_name, '?'),
                                   COALESCE(host(a.client_addr), 'a local socket'),
                                   to_char(a.backend_start AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                      WHERE l.locktype = 'advisory' AND l.granted AND l.database = tocsin_db_oid()
                        AND l.classid = tocsin_lock_class()::oid
                        AND l.objid = p_node::oid AND l.objsubid = 2
                      LIMIT 1), 'another session');
END
$$;

-- Takes the leader's lock for this session if it is free: true when this
-- session leads (then the singletons run here).
CREATE OR REPLACE FUNCTION tocsin_lead()
RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT pg_try_advisory_lock(tocsin_lock_class(), 1000);
$$;

-- The brokers alive on this database, by node id, and which one leads
-- (for an operator: SELECT * FROM tocsin_nodes()).
CREATE OR REPLACE FUNCTION tocsin_nodes()
RETURNS TABLE (node integer, leader boolean, pid integer, application_name text,
               client_addr inet, backend_start timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT n.objid::integer,
           EXISTS (SELECT 1 FROM pg_locks x
                    WHERE x.locktype = 'advisory' AND x.granted AND x.pid = n.pid
                      AND x.database = n.database
                      AND x.classid = tocsin_lock_class()::oid AND x.objid = 1000
                      AND x.objsubid = 2),
           n.pid, a.application_name, a.client_addr, a.backend_start
      FROM pg_locks n LEFT JOIN pg_stat_activity a ON a.pid = n.pid
     WHERE n.locktype = 'advisory' AND n.granted AND n.database = tocsin_db_oid()
       AND n.classid = tocsin_lock_class()::oid
       AND n.objid < 1000 AND n.objsubid = 2
     ORDER BY 1;
$$;

-- One alert as a broker fans it out: its recipients, the companies that
-- guard them, its audience and the alert object (tocsin_publish's answer,
-- and each row of tocsin_alerts_after).
CREATE OR REPLACE FUNCTION tocsin_alert_fanout(p_alert_id bigint)
RETURNS TABLE (alert_id bigint, seq bigint, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, target_roles text[],
               classification text, alert json)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.seq,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           (SELECT array_agg(DISTINCT s.guard_org_id ORDER BY s.guard_org_id)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = a.id),
           a.sender_org_id, a.target_roles, a.classification, tocsin_alert_json(a.id)
      FROM alerts a
     WHERE a.id = p_alert_id;
$$;

-- tocsin_alerts_after: what a broker has not yet fanned out, from the
-- stream position p_after: the next p_limit alerts in position order, as
-- tocsin_alert_fanout gives them, with the stream's head (of the same
-- snapshot) on every row, and for a relay the organisation that sent the
-- original (watcher_org_id: its desk hears the relay). When there are none,
-- one row with the head and NULLs. Positions are given in commit order
-- (tocsin_publish takes stream_meta's row lock until it commits), so once
-- fewer than p_limit rows come back, every alert up to the head has been
-- seen. Alerts that have expired by now are passed over, as a resume
-- passes them (tocsin_resume): after an outage a console is not rung for
-- what ended meanwhile.
CREATE OR REPLACE FUNCTION tocsin_alerts_after(p_after bigint, p_limit integer)
RETURNS TABLE (head bigint, alert_id bigint, seq bigint, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, target_roles text[],
               classification text, alert json, watcher_org_id integer)
LANGUAGE sql STABLE AS $$
    SELECT m.head, f.alert_id, f.seq, f.recipient_sites, f.recipient_orgs, f.sender_org_id,
           f.target_roles, f.classification, f.alert, f.watcher_org_id
      FROM stream_meta m
      LEFT JOIN LATERAL (
          SELECT x.*, (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of)
                      AS watcher_org_id
            FROM alerts a CROSS JOIN LATERAL tocsin_alert_fanout(a.id) x
           WHERE a.seq > p_after AND (a.expires IS NULL OR a.expires > now())
           ORDER BY a.seq
           LIMIT p_limit) f ON true
     ORDER BY f.seq;
$$;

-- The tallies of p_alerts, as the delivery records and receipts return
-- them, for the desks of another broker.
CREATE OR REPLACE FUNCTION tocsin_tallies(p_alerts bigint[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
LANGUAGE sql STABLE AS $$
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged, t.read,
           t.escalated, t.watcher_org_id
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
$$;

-- What the status reports p_reports changed, for the boards and the
-- report-now askers of another broker: each site's board entry as it is
-- now (its latest report, which may be newer still), and for a report that
-- answered a report-now request, the request, its asker and its progress.
CREATE OR REPLACE FUNCTION tocsin_status_reported(p_reports bigint[])
RETURNS TABLE (site_id integer, guard_org_id integer, site json, request_id bigint,
               requested_by integer, progress json)
LANGUAGE sql STABLE AS $$
    SELECT b.site_id, b.guard_org_id, tocsin_board_site(b), NULL::bigint, NULL::integer,
           NULL::json
      FROM status_board b
     WHERE b.site_id IN (SELECT r.site_id FROM status_reports r
                          WHERE r.id IN (SELECT unnest(p_reports)))
    UNION ALL
    SELECT q.site_id, NULL, NULL, q.request_id, rr.user_id,
           tocsin_report_now_progress(q.request_id)
      FROM report_request_sites q JOIN report_requests rr ON rr.id = q.request_id
     WHERE q.site_id IN (SELECT r.site_id FROM status_reports r
                          WHERE r.id IN (SELECT unnest(p_reports)))
       AND q.report_id IN (SELECT unnest(p_reports));
$$;

-- The report-now requests p_ids as tocsin_report_now answered them: the
-- consoles of the sites asked, on another broker, are asked too.
CREATE OR REPLACE FUNCTION tocsin_report_requests_of(p_ids bigint[])
RETURNS TABLE (request_id bigint, asked json, by_name text, requested_at text)
LANGUAGE sql STABLE AS $$
    SELECT q.id,
           (SELECT json_agg(s.site_id ORDER BY s.site_id) FROM report_request_sites s
             WHERE s.request_id = q.id),
           u.display_name, tocsin_status_time(q.requested_at)
      FROM report_requests q JOIN users u ON u.id = q.user_id
     WHERE q.id IN (SELECT unnest(p_ids))
     ORDER BY q.id;
$$;

-- The partner reports p_ids as the force's inbox shows them.
CREATE OR REPLACE FUNCTION tocsin_reports_json(p_ids bigint[])
RETURNS SETOF json
LANGUAGE sql STABLE AS $$
    SELECT tocsin_partner_report_json(p) FROM partner_reports p
     WHERE p.id IN (SELECT unnest(p_ids)) ORDER BY p.id;
$$;

-- The escalations of the (alert, site) pairs in p_pairs (alert, site,
-- alert, site...) with everything the broker sends about them
-- (tocsin_escalate's answer): for the consoles and desks of another
-- broker than the one that claimed them, which hears the same pairs on
-- tocsin_escalations.
CREATE OR REPLACE FUNCTION tocsin_escalations_of(p_pairs bigint[])
RETURNS TABLE (alert_id bigint, site_id integer, site_name text, guard_org_id integer,
               escalated_at text, seq bigint, sender_org_id integer, watcher_org_id integer,
               alert json)
LANGUAGE sql STABLE AS $$
    SELECT e.alert_id, e.site_id, s.name, s.guard_org_id,
           to_char(e.escalated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           a.seq, a.sender_org_id,
           (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of),
           tocsin_alert_json(a.id)
      FROM generate_series(1, COALESCE(cardinality(p_pairs), 0) - 1, 2) AS i
      JOIN escalations e ON e.alert_id = p_pairs[i] AND e.site_id = p_pairs[i + 1]
      JOIN alerts a ON a.id = e.alert_id
      JOIN sites s ON s.id = e.site_id
     ORDER BY a.seq, e.site_id;
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_lock_class(),
    tocsin_db_oid(),
    tocsin_notify(text, text[]),
    tocsin_node_claim(integer),
    tocsin_lead(),
    tocsin_nodes(),
    tocsin_alert_fanout(bigint),
    tocsin_alerts_after(bigint, integer),
    tocsin_tallies(bigint[]),
    tocsin_status_reported(bigint[]),
    tocsin_report_requests_of(bigint[]),
    tocsin_reports_json(bigint[]),
    tocsin_escalations_of(bigint[])
    TO tocsin_broker;
