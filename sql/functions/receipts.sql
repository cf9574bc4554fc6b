-- receipts.sql: reads and acknowledgements by the recipient sites' consoles,
-- one at a time and in batches, and who may see an alert's receipts (the
-- tables are in sql/schema/06_receipts.sql). The first read and the first
-- acknowledgement of a site are kept; every one is audited. Recording one
-- returns the alert's new tallies (alert_tallies) for its watchers.

-- Checks that a site console may record a receipt (ack, read, answer) for
-- an alert: it was sent to the console (tocsin_alert_sent_to: its site a
-- recipient, the alert aimed at site consoles, cleared if
-- OFFICIAL-SENSITIVE), else TS409 (not_recipient). Returns the user.
CREATE OR REPLACE FUNCTION tocsin_receipt_user(p_user_id integer, p_alert_id bigint, p_what text)
RETURNS users
LANGUAGE plpgsql AS $$
DECLARE
    u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role <> 'site_console' THEN
        RAISE EXCEPTION 'this user may not %', p_what USING ERRCODE = 'TS403';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert_id) THEN
        RAISE EXCEPTION 'no alert with id %', p_alert_id
            USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    IF NOT tocsin_alert_sent_to(p_alert_id, u.role, u.cleared_sensitive, u.site_id, u.org_id) THEN
        RAISE EXCEPTION 'alert % was not sent to the consoles of site %', p_alert_id, u.site_id
            USING ERRCODE = 'TS409', COLUMN = 'alert_id';
    END IF;
    RETURN u;
END
$$;

-- tocsin_ack: a site console acknowledges an alert for its site. The first
-- acknowledgement of a site is kept; every one is audited. The tallies name
-- the organisation that also watches a relay (watcher_org_id).
CREATE OR REPLACE FUNCTION tocsin_ack(p_user_id integer, p_alert_id bigint, p_remote text,
                                      p_at timestamptz)
RETURNS TABLE (alert_id bigint, site_id integer, acked_at timestamptz, already boolean,
               sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint, read bigint, escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_receipt_user(p_user_id, p_alert_id, 'acknowledge');
    k      acks%ROWTYPE;
    fresh  boolean;
BEGIN
    INSERT INTO acks (alert_id, site_id, user_id, acked_at)
    VALUES (p_alert_id, u.site_id, u.id, COALESCE(p_at, clock_timestamp()))
    ON CONFLICT DO NOTHING
    RETURNING * INTO k;
    fresh := FOUND;
    IF NOT fresh THEN
        SELECT * INTO k FROM acks WHERE acks.alert_id = p_alert_id AND acks.site_id = u.site_id;
    END IF;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES (COALESCE(p_at, clock_timestamp()), 'ack', u.id, u.username, u.role, u.org_id,
            p_alert_id, u.site_id, p_remote, jsonb_build_object('first', fresh));
    RETURN QUERY
    SELECT k.alert_id, k.site_id, k.acked_at, NOT fresh, t.sender_org_id, t.recipients,
           t.delivered, t.acknowledged, t.read, t.escalated, t.watcher_org_id
      FROM alert_tallies t WHERE t.alert_id = p_alert_id;
END
$$;

-- tocsin_read: the console displayed the alert. The first read of a site
-- is kept; every one is audited.
CREATE OR REPLACE FUNCTION tocsin_read(p_user_id integer, p_alert_id bigint, p_remote text,
                                       p_at timestamptz)
RETURNS TABLE (alert_id bigint, site_id integer, read_at timestamptz, already boolean,
               sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint, read bigint, escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_receipt_user(p_user_id, p_alert_id, 'confirm reading');
    x      reads%ROWTYPE;
    fresh  boolean;
BEGIN
    INSERT INTO reads (alert_id, site_id, user_id, read_at)
    VALUES (p_alert_id, u.site_id, u.id, COALESCE(p_at, clock_timestamp()))
    ON CONFLICT DO NOTHING
    RETURNING * INTO x;
    fresh := FOUND;
    IF NOT fresh THEN
        SELECT * INTO x FROM reads WHERE reads.alert_id = p_alert_id AND reads.site_id = u.site_id;
    END IF;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES (COALESCE(p_at, clock_timestamp()), 'read', u.id, u.username, u.role, u.org_id,
            p_alert_id, u.site_id, p_remote, jsonb_build_object('first', fresh));
    RETURN QUERY
    SELECT x.alert_id, x.site_id, x.read_at, NOT fresh, t.sender_org_id, t.recipients,
           t.delivered, t.acknowledged, t.read, t.escalated, t.watcher_org_id
      FROM alert_tallies t WHERE t.alert_id = p_alert_id;
END
$$;

-- tocsin_copy_receipts: a relay is one alert with its original at a site
-- that received both (issue 17, item 5; migration 043). Each receipt
-- given (p_kind 'ack', 'read' or 'answer'; parallel arrays: the alert it
-- names, the site, the console's user, the time, and for an answer its
-- choice or number) is copied to every other alert of that alert's family
-- (the original and the companies' relays of it) that the site received,
-- with the same user and time, and each copy is audited as that alert's
-- ack, read or answer, "through" the alert named. An ack or read the site
-- already has is kept (ON CONFLICT DO NOTHING); an answer is copied only
-- to an alert that asks the same question, and not twice. The trigger
-- tocsin_receipt_linked (sql/functions/triggers.sql) calls it for every
-- new receipt, and tocsin_relay for the receipts a new relay's sites gave
-- its original before it.
CREATE OR REPLACE FUNCTION tocsin_copy_receipts(p_kind text, p_alerts bigint[],
                                                p_sites integer[], p_users integer[],
                                                p_at timestamptz[], p_choices text[],
                                                p_numbers bigint[])
RETURNS void
LANGUAGE sql AS $$
    WITH src AS (
        SELECT * FROM unnest(p_alerts, p_sites, p_users, p_at, p_choices, p_numbers)
                      AS s(alert_id, site_id, user_id, at, choice, number)),
    fam AS (
        SELECT DISTINCT a.id AS named, x.id AS other
          FROM (SELECT DISTINCT alert_id FROM src) n
          JOIN alerts a ON a.id = n.alert_id
          JOIN alerts x ON x.id <> a.id
                       AND (x.id = COALESCE(a.relay_of, a.id)
                            OR x.relay_of = COALESCE(a.relay_of, a.id))
         WHERE p_kind <> 'answer' OR x.request = a.request),
    todo AS (
        SELECT f.other, s.*
          FROM src s
          JOIN fam f ON f.named = s.alert_id
          JOIN alert_recipients r ON r.alert_id = f.other AND r.site_id = s.site_id),
    k AS (
        INSERT INTO acks (alert_id, site_id, user_id, acked_at)
        SELECT other, site_id, user_id, at FROM todo WHERE p_kind = 'ack'
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    x AS (
        INSERT INTO reads (alert_id, site_id, user_id, read_at)
        SELECT other, site_id, user_id, at FROM todo WHERE p_kind = 'read'
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    w AS (
        INSERT INTO answers (alert_id, site_id, user_id, choice, number, answered_at)
        SELECT t.other, t.site_id, t.user_id, t.choice, t.number, t.at FROM todo t
         WHERE p_kind = 'answer'
           AND NOT EXISTS (SELECT 1 FROM answers z
                            WHERE z.alert_id = t.other AND z.site_id = t.site_id
                              AND z.user_id = t.user_id AND z.answered_at = t.at)
        RETURNING alert_id, site_id),
    done AS (
        SELECT * FROM k UNION ALL SELECT * FROM x UNION ALL SELECT * FROM w)
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, detail)
    SELECT DISTINCT ON (d.alert_id, d.site_id)
           t.at, p_kind, u.id, u.username, u.role, u.org_id, d.alert_id, d.site_id,
           CASE WHEN p_kind = 'answer'
                THEN jsonb_build_object('choice', t.choice, 'number', t.number,
                                        'through', t.alert_id)
                ELSE jsonb_build_object('first', true, 'through', t.alert_id) END
      FROM done d
      JOIN todo t ON t.other = d.alert_id AND t.site_id = d.site_id
      JOIN users u ON u.id = t.user_id
     ORDER BY d.alert_id, d.site_id, t.alert_id;
$$;

-- tocsin_receipt_batch_fast: acknowledgements and reads stored set-wise
-- (issue 6); the batch's rows, or NULL when the batch does not qualify
-- (nothing is written then).
--
-- The per-item path (tocsin_receipt_batch_each) stores each ack or read in
-- its own savepoint through tocsin_ack/tocsin_read, and each of those
-- counts the alert's tallies again (recipients, deliveries, acks, reads).
-- With 10,000 consoles acknowledging one alert that is 10,000 savepoints
-- and 10,000 counts over the same alert, and the bench audited about 1,200
-- acknowledgements a second (issue 6 asks for 10,000 within a second).
-- When every item of the batch is a new record (its jid unseen) from an
-- enabled site console whose site received the alert, a handful of
-- statements here store the whole batch, with exactly the rows the
-- per-item path writes (journal_applied, acks or reads keeping the first
-- per site, one audit row per item with "first"), and the tallies are
-- counted once per alert. Within a batch the first item of a site (by
-- position) is the one kept, as the loop would keep it.
--
-- Whether any jid of the batch was applied before is a join to
-- journal_applied's primary key, not `jid = ANY (p_jids)`: the planner
-- cannot tell the array's length, guessed ten elements and scanned the
-- table, comparing each row with every jid of the batch: 3,457 rows x
-- 2,000 jids took 110 to 170 ms of each 2,000-ack batch (the whole batch
-- took 137 ms). Joined to the primary key, the test is 2,000 lookups or
-- one hash join. (Measured on the database of a `make bench` run, with
-- auto_explain.)
CREATE OR REPLACE FUNCTION tocsin_receipt_batch_fast(p_jids text[], p_kinds text[],
                                                     p_users integer[], p_alerts bigint[],
                                                     p_remotes text[], p_at timestamptz[])
RETURNS tocsin_receipt_row[]
LANGUAGE plpgsql AS $$
DECLARE
    n        integer := coalesce(array_length(p_kinds, 1), 0);
    v_first  boolean[];
    rows     tocsin_receipt_row[];
BEGIN
    IF n < 2 OR cardinality(p_jids) <> n OR cardinality(p_users) <> n
       OR cardinality(p_alerts) <> n OR cardinality(p_remotes) <> n
       OR cardinality(p_at) <> n THEN
        RETURN NULL;
    END IF;
    -- every item an enabled site console's, for an alert sent to it
    -- (tocsin_alert_sent_to, as tocsin_receipt_user), under a jid seen
    -- neither before nor twice here
    IF EXISTS (
        SELECT 1
          FROM unnest(p_kinds, p_users, p_alerts) AS x(kind, user_id, alert_id)
          LEFT JOIN users u ON u.id = x.user_id AND NOT u.disabled AND u.role = 'site_console'
         WHERE x.kind IS NULL OR x.kind NOT IN ('ack', 'read') OR u.id IS NULL
            OR NOT tocsin_alert_sent_to(x.alert_id, u.role, u.cleared_sensitive, u.site_id,
                                        u.org_id))
       OR (SELECT count(DISTINCT j) FROM unnest(p_jids) AS j) <> n
       OR EXISTS (SELECT 1 FROM unnest(p_jids) AS j
                    JOIN journal_applied a ON a.jid = j) THEN
        RETURN NULL;
    END IF;

    -- the first item of each (kind, alert, site) is kept when the site has
    -- no record of that kind yet; every item is audited, in order
    WITH items AS MATERIALIZED (
        SELECT x.idx::integer AS idx, x.kind, u.id AS user_id, u.username, u.role, u.org_id,
               u.site_id, x.alert_id, x.remote, COALESCE(x.at, clock_timestamp()) AS at
          FROM unnest(p_kinds, p_users, p_alerts, p_remotes, p_at)
               WITH ORDINALITY AS x(kind, user_id, alert_id, remote, at, idx)
          JOIN users u ON u.id = x.user_id),
    firsts AS (
        SELECT DISTINCT ON (kind, alert_id, site_id) *
          FROM items ORDER BY kind, alert_id, site_id, idx),
    applied AS (
        INSERT INTO journal_applied (jid, kind, outcome)
        SELECT j, k, 'direct' FROM unnest(p_jids, p_kinds) AS x(j, k)
        RETURNING 1),
    new_acks AS (
        INSERT INTO acks (alert_id, site_id, user_id, acked_at)
        SELECT alert_id, site_id, user_id, at FROM firsts WHERE kind = 'ack' ORDER BY idx
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    new_reads AS (
        INSERT INTO reads (alert_id, site_id, user_id, read_at)
        SELECT alert_id, site_id, user_id, at FROM firsts WHERE kind = 'read' ORDER BY idx
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    kept AS (
        SELECT f.idx FROM firsts f JOIN new_acks k USING (alert_id, site_id)
         WHERE f.kind = 'ack'
        UNION ALL
        SELECT f.idx FROM firsts f JOIN new_reads k USING (alert_id, site_id)
         WHERE f.kind = 'read'),
    marked AS (
        SELECT i.*, (i.idx IN (SELECT idx FROM kept)) AS first FROM items i),
    audited AS (
        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, site_id, remote_addr, detail)
        SELECT m.at, m.kind, m.user_id, m.username, m.role, m.org_id, m.alert_id, m.site_id,
               m.remote, jsonb_build_object('first', m.first)
          FROM marked m ORDER BY m.idx
        RETURNING 1)
    SELECT array_agg(m.first ORDER BY m.idx) INTO v_first FROM marked m;

    -- a new statement sees the rows just written: the kept time of each
    -- site's record, and the tallies counted once per alert
    WITH t AS MATERIALIZED (  -- counted once per alert, not once per item
        SELECT * FROM alert_tallies
         WHERE alert_tallies.alert_id IN (SELECT DISTINCT a FROM unnest(p_alerts) AS a))
    SELECT array_agg(ROW(x.idx::integer, NULL, NULL, NULL, x.alert_id, u.site_id,
                         to_char(kept.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                         NOT v_first[x.idx], t.sender_org_id, t.recipients, t.delivered,
                         t.acknowledged, t.read, t.escalated,
                         t.watcher_org_id)::tocsin_receipt_row ORDER BY x.idx)
      INTO rows
      FROM unnest(p_kinds, p_users, p_alerts) WITH ORDINALITY AS x(kind, user_id, alert_id, idx)
      JOIN users u ON u.id = x.user_id
      CROSS JOIN LATERAL (
          SELECT k.acked_at AS at FROM acks k
           WHERE x.kind = 'ack' AND k.alert_id = x.alert_id AND k.site_id = u.site_id
          UNION ALL
          SELECT r.read_at FROM reads r
           WHERE x.kind = 'read' AND r.alert_id = x.alert_id AND r.site_id = u.site_id) kept
      JOIN t ON t.alert_id = x.alert_id;
    IF cardinality(rows) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'receipt batch: % rows for % items', cardinality(rows), n;
    END IF;
    RETURN rows;
END
$$;

-- tocsin_receipt_batch_each: acknowledgements and reads written in
-- batches, item by item. One transaction (one commit, one fsync) for every
-- ack and read that arrived within a few milliseconds, instead of one
-- each: the broker answers each console after the batch commits. Each item
-- runs in its own savepoint, so an item that is refused (not a recipient,
-- unknown alert) is answered with its error and never rolls back its
-- neighbours.
--
-- No duplicate audit rows when the connection drops with a batch in
-- flight: the broker names every acknowledgement and read with a record id
-- (jid) before it sends it, and each item records that id in
-- journal_applied; if the connection drops before the broker hears the
-- outcome, it journals the same record under the same id, and replay (or
-- this function, with TS208) finds the id and skips what had in fact
-- committed.
CREATE OR REPLACE FUNCTION tocsin_receipt_batch_each(p_jids text[], p_kinds text[],
                                                     p_users integer[], p_alerts bigint[],
                                                     p_remotes text[], p_at timestamptz[])
RETURNS TABLE (idx integer, err_state text, err_message text, err_field text, alert_id bigint,
               site_id integer, at text, already boolean, sender_org_id integer,
               recipients bigint, delivered bigint, acknowledged bigint, read bigint,
               escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    i  integer;
    r  record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        BEGIN
            INSERT INTO journal_applied (jid, kind, outcome)
            VALUES (p_jids[i], p_kinds[i], 'direct') ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'record % was already written', p_jids[i] USING ERRCODE = 'TS208';
            END IF;
            IF p_kinds[i] = 'ack' THEN
                SELECT * INTO r FROM tocsin_ack(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                at := to_char(r.acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            ELSE
                SELECT * INTO r FROM tocsin_read(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                at := to_char(r.read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            END IF;
            idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
            alert_id := r.alert_id; site_id := r.site_id;
            already := r.already; sender_org_id := r.sender_org_id;
            recipients := r.recipients; delivered := r.delivered;
            acknowledged := r.acknowledged; read := r.read; escalated := r.escalated;
            watcher_org_id := r.watcher_org_id;
            RETURN NEXT;
        EXCEPTION
        WHEN lock_not_available OR transaction_rollback THEN
            RAISE; -- lock_timeout, deadlock, serialization: transient; db.c redoes it
        WHEN OTHERS THEN
            idx := i;
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_field = COLUMN_NAME;
            alert_id := p_alerts[i]; site_id := NULL; at := NULL; already := NULL;
            sender_org_id := NULL; recipients := NULL; delivered := NULL;
            acknowledged := NULL; read := NULL; escalated := NULL; watcher_org_id := NULL;
            RETURN NEXT;
        END;
    END LOOP;
END
$$;

-- tocsin_receipt_batch: what the broker calls. The set-based path
-- (tocsin_receipt_batch_fast) when the batch qualifies; else, or on any
-- error there, the per-item path (tocsin_receipt_batch_each), which
-- answers each item with its own error.
CREATE OR REPLACE FUNCTION tocsin_receipt_batch(p_jids text[], p_kinds text[],
                                                p_users integer[], p_alerts bigint[],
                                                p_remotes text[], p_at timestamptz[])
RETURNS TABLE (idx integer, err_state text, err_message text, err_field text, alert_id bigint,
               site_id integer, at text, already boolean, sender_org_id integer,
               recipients bigint, delivered bigint, acknowledged bigint, read bigint,
               escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    fast  tocsin_receipt_row[];
BEGIN
    BEGIN
        fast := tocsin_receipt_batch_fast(p_jids, p_kinds, p_users, p_alerts, p_remotes, p_at);
    EXCEPTION
    WHEN lock_not_available OR transaction_rollback THEN
        RAISE; -- lock_timeout, deadlock, serialization: transient; db.c redoes it
    WHEN OTHERS THEN
        fast := NULL; -- rolled back to here: the per-item path does it all
    END;
    -- the other brokers' desks read the new tallies (sql/functions/nodes.sql)
    PERFORM tocsin_notify('tocsin_receipts', p_alerts::text[]);
    IF fast IS NOT NULL THEN
        RETURN QUERY SELECT * FROM unnest(fast);
    ELSE
        RETURN QUERY SELECT * FROM tocsin_receipt_batch_each(p_jids, p_kinds, p_users, p_alerts,
                                                             p_remotes, p_at);
    END IF;
END
$$;

-- Receipts: the sending organisation's desk (the operators of a relaying
-- company), the organisation that sent the original of a relay, admins,
-- and every controller and analyst of the force, whoever sent the alert:
-- the shared control room lists every alert in force with its receipts
-- (issue 17).
CREATE OR REPLACE FUNCTION tocsin_receipts_allowed(p_user_id integer, p_alert_id bigint)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u, alerts a
         WHERE u.id = p_user_id AND NOT u.disabled AND a.id = p_alert_id
           AND (u.role IN ('admin', 'controller', 'analyst')
                OR (u.role = 'company_operator'
                    AND (u.org_id = a.sender_org_id
                         OR u.org_id = (SELECT o.sender_org_id FROM alerts o
                                         WHERE o.id = a.relay_of)))));
$$;

-- Who may read an alert's receipts: 'all' (the sending desk, the
-- original's sender of a relay, admin), 'own_sites' (a company whose
-- guarded sites the alert reached), or NULL (not allowed).
--
-- A company operator may ask for the receipts of an alert sent to it
-- (tocsin_alert_sent_to: a site its company guards a recipient,
-- company_operator among its target_roles, cleared when it is
-- OFFICIAL-SENSITIVE). Such a reply is scoped to the company's own sites.
CREATE OR REPLACE FUNCTION tocsin_receipts_scope(p_user_id integer, p_alert_id bigint)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
             WHEN tocsin_receipts_allowed(p_user_id, p_alert_id) THEN 'all'
             WHEN EXISTS (
                 SELECT 1 FROM users u, alerts a
                  WHERE u.id = p_user_id AND NOT u.disabled AND a.id = p_alert_id
                    AND u.role = 'company_operator'
                    AND tocsin_alert_sent_to(a.id, u.role, u.cleared_sensitive, u.site_id,
                                             u.org_id))
               THEN 'own_sites'
           END;
$$;

-- tocsin_receipts: per recipient site, when it was delivered, read,
-- acknowledged and escalated, and its latest answer; a tally over the
-- sites it lists, the sites not acknowledged, the relays, and its scope
-- ('all' or 'own_sites', tocsin_receipts_scope). An own_sites reply holds
-- the company's own sites only: their rows, a tally and not_acknowledged
-- computed over them only, and only the company's own relays; nothing
-- about another company's sites, relays or totals. Raises TS404 for an
-- unknown alert and TS403 when the user may not see any of them.
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

-- Receipts, audited (DPA 2018 s.62: reading them is a consultation): the
-- same answer as tocsin_receipts(user, alert), and a view_receipts row
-- naming who read them, from where, and how many sites and relays they
-- showed; a company desk's read of its own sites says so ("scope":
-- "own_sites"). A refused read raises before anything is written.
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

-- tocsin_receipt_audience: which receipts the broker may push live to the
-- desk of the company guarding the site (site_receipt frames). Of the new
-- receipts (alert, site) in a batch, by position (1-based),
-- those the guarding company's desk is told about live: the alert was sent
-- to company operators (or is the company's own relay), with the company,
-- the site's name and whether only cleared operators may see it.
CREATE OR REPLACE FUNCTION tocsin_receipt_audience(p_alerts bigint[], p_sites integer[])
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

GRANT EXECUTE ON FUNCTION
    tocsin_receipt_user(integer, bigint, text),
    tocsin_ack(integer, bigint, text, timestamptz),
    tocsin_read(integer, bigint, text, timestamptz),
    tocsin_receipt_batch_fast(text[], text[], integer[], bigint[], text[], timestamptz[]),
    tocsin_receipt_batch_each(text[], text[], integer[], bigint[], text[], timestamptz[]),
    tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamptz[]),
    tocsin_receipts_allowed(integer, bigint),
    tocsin_receipts_scope(integer, bigint),
    tocsin_receipts(integer, bigint),
    tocsin_receipts(integer, bigint, text),
    tocsin_receipt_audience(bigint[], integer[])
    TO tocsin_broker;

GRANT EXECUTE ON FUNCTION
    tocsin_copy_receipts(text, bigint[], integer[], integer[], timestamptz[], text[], bigint[])
    TO tocsin_broker;
