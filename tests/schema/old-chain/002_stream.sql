-- 002_stream.sql: never silent. Stream positions assigned in commit order
-- with an epoch, broker-assigned alert ids, reads, escalations, resume,
-- receipts, and idempotent replay of the broker's local journal.

-- The stream: one row. head is the last position given out; taking the
-- next one locks the row until commit, so positions are in commit order
-- even with several brokers writing (a resuming console can never skip an
-- alert that commits late).
CREATE TABLE stream_meta (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch  text NOT NULL,
    head   bigint NOT NULL
);
INSERT INTO stream_meta (epoch, head)
SELECT md5(random()::text || clock_timestamp()::text), COALESCE(max(seq), 0) FROM alerts;

-- Alerts written from the journal have no position until then.
ALTER TABLE alerts ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE alert_stream_seq;

CREATE TABLE reads (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    user_id   integer NOT NULL REFERENCES users (id),
    read_at   timestamptz NOT NULL,
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

CREATE TABLE escalations (
    alert_id      bigint NOT NULL,
    site_id       integer NOT NULL,
    escalated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

-- Journal records already written: replay is idempotent across crashes.
CREATE TABLE journal_applied (
    jid         text PRIMARY KEY,
    kind        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome     text NOT NULL
);

CREATE OR REPLACE VIEW alert_tallies AS
SELECT a.id AS alert_id,
       a.sender_org_id,
       (SELECT count(*) FROM alert_recipients r WHERE r.alert_id = a.id) AS recipients,
       (SELECT count(DISTINCT d.site_id) FROM deliveries d WHERE d.alert_id = a.id) AS delivered,
       (SELECT count(*) FROM acks k WHERE k.alert_id = a.id) AS acknowledged,
       (SELECT count(*) FROM reads x WHERE x.alert_id = a.id) AS read,
       (SELECT count(*) FROM escalations e WHERE e.alert_id = a.id) AS escalated
FROM alerts a;

DROP FUNCTION tocsin_publish(integer, text, text, text, integer[], integer[], jsonb, text);
DROP FUNCTION tocsin_ack(integer, bigint, text);

-- tocsin_publish: store an alert with the id the broker gave it, resolve
-- (or, from the journal, take as frozen) its recipients, give it the next
-- stream position, and audit the publish. Publishing the same id twice
-- returns the stored alert and changes nothing (journal replay).
CREATE FUNCTION tocsin_publish(p_alert_id bigint, p_user_id integer, p_headline text,
                               p_body text, p_severity text, p_orgs integer[],
                               p_sites integer[], p_targets jsonb, p_remote text,
                               p_at timestamptz, p_recipients integer[])
RETURNS TABLE (alert_id bigint, seq bigint, sent_at timestamptz, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, sender_org_name text,
               sender_display_name text, sender_user_id integer, existed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE;
    missing  integer;
    pos      integer;
    a        alerts%ROWTYPE;
    fresh    boolean := true;
BEGIN
    SELECT * INTO a FROM alerts WHERE id = p_alert_id;
    IF FOUND THEN
        fresh := false;
        SELECT * INTO u FROM users WHERE id = a.sender_user_id;
    ELSE
        SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
        IF NOT FOUND OR u.role NOT IN ('controller', 'analyst') THEN
            RAISE EXCEPTION 'this user may not publish' USING ERRCODE = 'TS403';
        END IF;
        IF p_recipients IS NULL THEN
            SELECT o, i INTO missing, pos FROM unnest(p_orgs) WITH ORDINALITY AS t(o, i)
             WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE id = t.o) ORDER BY i LIMIT 1;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'no organisation with id %', missing
                    USING ERRCODE = 'TS404', COLUMN = format('targets.orgs[%s]', pos - 1);
            END IF;
            SELECT s, i INTO missing, pos FROM unnest(p_sites) WITH ORDINALITY AS t(s, i)
             WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = t.s) ORDER BY i LIMIT 1;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'no site with id %', missing
                    USING ERRCODE = 'TS404', COLUMN = format('targets.sites[%s]', pos - 1);
            END IF;
        END IF;

        UPDATE stream_meta SET head = head + 1 RETURNING head INTO pos;
        INSERT INTO alerts (id, seq, sender_user_id, sender_org_id, headline, body, severity,
                            targets, sent_at)
        VALUES (p_alert_id, pos, u.id, u.org_id, p_headline, p_body, p_severity, p_targets,
                COALESCE(p_at, clock_timestamp()))
        RETURNING * INTO a;

        IF p_recipients IS NULL THEN
            INSERT INTO alert_recipients (alert_id, site_id)
            SELECT a.id, s.id FROM sites s
             WHERE s.id = ANY (p_sites) OR s.guard_org_id = ANY (p_orgs);
        ELSE
            INSERT INTO alert_recipients (alert_id, site_id)
            SELECT a.id, s.id FROM sites s WHERE s.id = ANY (p_recipients);
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the targets resolve to no site'
                USING ERRCODE = 'TS422', COLUMN = 'targets';
        END IF;

        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, remote_addr, detail)
        VALUES (a.sent_at, 'publish', u.id, u.username, u.role, u.org_id, a.id, p_remote,
                jsonb_build_object('headline', a.headline, 'severity', a.severity,
                                   'targets', a.targets, 'seq', a.seq,
                                   'journaled', p_recipients IS NOT NULL,
                                   'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                    FROM alert_recipients r
                                                   WHERE r.alert_id = a.id)));
    END IF;

    RETURN QUERY
    SELECT a.id, a.seq, a.sent_at,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           (SELECT array_agg(DISTINCT s.guard_org_id ORDER BY s.guard_org_id)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = a.id),
           o.id, o.name, u.display_name, u.id, NOT fresh
      FROM organisations o WHERE o.id = u.org_id;
END
$$;

-- Checks that a site console may record a receipt for an alert; returns
-- the user.
CREATE FUNCTION tocsin_receipt_user(p_user_id integer, p_alert_id bigint, p_what text)
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
    IF NOT EXISTS (SELECT 1 FROM alert_recipients r
                    WHERE r.alert_id = p_alert_id AND r.site_id = u.site_id) THEN
        RAISE EXCEPTION 'site % was not a recipient of alert %', u.site_id, p_alert_id
            USING ERRCODE = 'TS409', COLUMN = 'alert_id';
    END IF;
    RETURN u;
END
$$;

-- tocsin_ack: a site console acknowledges an alert for its site. The first
-- acknowledgement of a site is kept; every one is audited.
CREATE FUNCTION tocsin_ack(p_user_id integer, p_alert_id bigint, p_remote text,
                           p_at timestamptz)
RETURNS TABLE (alert_id bigint, site_id integer, acked_at timestamptz, already boolean,
               sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint, read bigint, escalated bigint)
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
           t.delivered, t.acknowledged, t.read, t.escalated
      FROM alert_tallies t WHERE t.alert_id = p_alert_id;
END
$$;

-- tocsin_read: the console displayed the alert. The first read of a site
-- is kept; every one is audited.
CREATE FUNCTION tocsin_read(p_user_id integer, p_alert_id bigint, p_remote text,
                            p_at timestamptz)
RETURNS TABLE (alert_id bigint, site_id integer, read_at timestamptz, already boolean,
               sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint, read bigint, escalated bigint)
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
           t.delivered, t.acknowledged, t.read, t.escalated
      FROM alert_tallies t WHERE t.alert_id = p_alert_id;
END
$$;

DROP FUNCTION tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]);
CREATE FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[],
                                         p_users integer[], p_at timestamptz[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (alert_id, site_id, user_id, delivered_at)
    SELECT * FROM unnest(p_alerts, p_sites, p_users, p_at);

    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id)
    SELECT d.at, 'deliver', u.id, u.username, u.role, u.org_id, d.alert_id, d.site_id
      FROM unnest(p_alerts, p_sites, p_users, p_at) AS d(alert_id, site_id, user_id, at)
      JOIN users u ON u.id = d.user_id;

    RETURN QUERY
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged, t.read,
           t.escalated
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
END
$$;

-- tocsin_resume: the alerts a console (its site) or a company operator
-- (its company's sites) should have after position p_after, in order.
CREATE FUNCTION tocsin_resume(p_role text, p_site_id integer, p_org_id integer,
                              p_after bigint, p_limit integer)
RETURNS TABLE (id bigint, seq bigint, headline text, body text, severity text,
               sent_at text, sender_user_id integer, sender_display_name text,
               sender_org_id integer, sender_org_name text)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.seq, a.headline, a.body, a.severity,
           to_char(a.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           u.id, u.display_name, o.id, o.name
      FROM alerts a
      JOIN users u ON u.id = a.sender_user_id
      JOIN organisations o ON o.id = a.sender_org_id
     WHERE a.seq > p_after
       AND EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                    WHERE r.alert_id = a.id
                      AND ((p_role = 'site_console' AND r.site_id = p_site_id)
                        OR (p_role = 'company_operator' AND s.guard_org_id = p_org_id)))
     ORDER BY a.seq
     LIMIT p_limit;
$$;

-- tocsin_receipts: per recipient site, when it was delivered, read,
-- acknowledged and escalated. Only the sending organisation and admins.
CREATE FUNCTION tocsin_receipts(p_user_id integer, p_alert_id bigint)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u  users%ROWTYPE;
    a  alerts%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    SELECT * INTO a FROM alerts WHERE id = p_alert_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no alert with id %', p_alert_id
            USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    IF u.id IS NULL OR NOT (u.role = 'admin' OR (u.role IN ('controller', 'analyst')
                                                 AND u.org_id = a.sender_org_id)) THEN
        RAISE EXCEPTION 'only the sending organisation may see these receipts'
            USING ERRCODE = 'TS403';
    END IF;
    RETURN (
        WITH per_site AS (
            SELECT r.site_id, s.name AS site_name, s.guard_org_id,
                   (SELECT min(d.delivered_at) FROM deliveries d
                     WHERE d.alert_id = r.alert_id AND d.site_id = r.site_id) AS delivered_at,
                   x.read_at, k.acked_at, e.escalated_at
              FROM alert_recipients r
              JOIN sites s ON s.id = r.site_id
              LEFT JOIN reads x ON x.alert_id = r.alert_id AND x.site_id = r.site_id
              LEFT JOIN acks k ON k.alert_id = r.alert_id AND k.site_id = r.site_id
              LEFT JOIN escalations e ON e.alert_id = r.alert_id AND e.site_id = r.site_id
             WHERE r.alert_id = p_alert_id)
        SELECT json_build_object(
            'sites', COALESCE(json_agg(json_build_object(
                'site_id', site_id, 'site_name', site_name, 'guard_org_id', guard_org_id,
                'delivered_at', to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'read_at', to_char(read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'acked_at', to_char(acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'escalated_at', to_char(escalated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                ORDER BY site_name), '[]'::json),
            'not_acknowledged', COALESCE(json_agg(site_id ORDER BY site_id)
                                         FILTER (WHERE acked_at IS NULL), '[]'::json))
          FROM per_site);
END
$$;

-- tocsin_escalate: claims every (alert, site) of a severe or extreme alert
-- that has gone unacknowledged for longer than p_after, once, audits it,
-- and returns what the broker must re-send and raise.
CREATE FUNCTION tocsin_escalate(p_after interval, p_limit integer)
RETURNS TABLE (alert_id bigint, site_id integer, site_name text, guard_org_id integer,
               escalated_at text, seq bigint, headline text, body text, severity text,
               sent_at text, sender_user_id integer, sender_display_name text,
               sender_org_id integer, sender_org_name text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT r.alert_id, r.site_id
          FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id
         WHERE a.severity IN ('severe', 'extreme')
           AND a.sent_at < clock_timestamp() - p_after
           AND a.sent_at > clock_timestamp() - p_after - interval '1 day'
           AND NOT EXISTS (SELECT 1 FROM acks k WHERE k.alert_id = r.alert_id AND k.site_id = r.site_id)
           AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.alert_id = r.alert_id AND e.site_id = r.site_id)
         ORDER BY a.seq, r.site_id
         LIMIT p_limit),
    claimed AS (
        INSERT INTO escalations (alert_id, site_id)
        SELECT due.alert_id, due.site_id FROM due
        ON CONFLICT DO NOTHING
        RETURNING escalations.alert_id, escalations.site_id, escalations.escalated_at),
    audited AS (
        INSERT INTO audit (at, action, actor_role, alert_id, site_id, detail)
        SELECT c.escalated_at, 'escalate', 'system', c.alert_id, c.site_id,
               jsonb_build_object('after_seconds', extract(epoch FROM p_after))
          FROM claimed c
        RETURNING 1)   -- runs to completion whether read or not
    SELECT c.alert_id, c.site_id, s.name, s.guard_org_id,
           to_char(c.escalated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           a.seq, a.headline, a.body, a.severity,
           to_char(a.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           u.id, u.display_name, o.id, o.name
      FROM claimed c
      JOIN alerts a ON a.id = c.alert_id
      JOIN sites s ON s.id = c.site_id
      JOIN users u ON u.id = a.sender_user_id
      JOIN organisations o ON o.id = a.sender_org_id
     ORDER BY a.seq, c.site_id;
END
$$;

-- A JSON array of integers as an integer[], in order.
CREATE FUNCTION tocsin_json_ints(p jsonb) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(array_agg(e::integer ORDER BY i), '{}')
      FROM jsonb_array_elements_text(COALESCE(p, '[]'::jsonb)) WITH ORDINALITY AS t(e, i);
$$;

-- tocsin_journal_apply: writes one record of a broker's journal, once.
-- A record that the database refuses (say, an acknowledgement for a site
-- that was not a recipient) is kept as refused with its reason, so replay
-- never stops on it and the refusal is audited.
CREATE FUNCTION tocsin_journal_apply(p_jid text, p_kind text, p_rec jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    outcome  text := 'applied';
    r        jsonb := p_rec;
BEGIN
    IF EXISTS (SELECT 1 FROM journal_applied WHERE jid = p_jid) THEN
        RETURN 'duplicate';
    END IF;
    BEGIN
        CASE p_kind
        WHEN 'publish' THEN
            PERFORM tocsin_publish((r->>'alert_id')::bigint, (r->>'user_id')::integer,
                r->>'headline', r->>'body', r->>'severity',
                tocsin_json_ints(r->'orgs'), tocsin_json_ints(r->'sites'),
                r->'targets', r->>'remote', (r->>'at')::timestamptz,
                tocsin_json_ints(r->'recipients'));
        WHEN 'ack' THEN
            PERFORM tocsin_ack((r->>'user_id')::integer, (r->>'alert_id')::bigint,
                               r->>'remote', (r->>'at')::timestamptz);
        WHEN 'read' THEN
            PERFORM tocsin_read((r->>'user_id')::integer, (r->>'alert_id')::bigint,
                                r->>'remote', (r->>'at')::timestamptz);
        WHEN 'deliveries' THEN
            PERFORM tocsin_record_deliveries(
                ARRAY(SELECT e::bigint FROM jsonb_array_elements_text(r->'alerts')
                        WITH ORDINALITY AS t(e, i) ORDER BY i),
                ARRAY(SELECT NULLIF(e, '0')::integer FROM jsonb_array_elements_text(r->'sites')
                        WITH ORDINALITY AS t(e, i) ORDER BY i),
                tocsin_json_ints(r->'users'),
                ARRAY(SELECT e::timestamptz FROM jsonb_array_elements_text(r->'at')
                        WITH ORDINALITY AS t(e, i) ORDER BY i));
        ELSE
            RAISE EXCEPTION 'unknown journal record kind %', p_kind;
        END CASE;
    EXCEPTION WHEN OTHERS THEN
        outcome := 'refused: ' || SQLERRM;
        INSERT INTO audit (action, actor_role, alert_id, detail)
        VALUES ('journal_refused', 'system', (r->>'alert_id')::bigint,
                jsonb_build_object('jid', p_jid, 'kind', p_kind, 'reason', SQLERRM));
    END;
    INSERT INTO journal_applied (jid, kind, outcome) VALUES (p_jid, p_kind, outcome);
    RETURN outcome;
END
$$;

-- The directory the broker keeps in memory to resolve targets while the
-- database is away.
CREATE FUNCTION tocsin_site_guards()
RETURNS TABLE (site_id integer, guard_org_id integer)
LANGUAGE sql STABLE AS $$
    SELECT id, guard_org_id FROM sites ORDER BY id;
$$;

GRANT SELECT ON stream_meta TO tocsin_broker;
GRANT UPDATE (head) ON stream_meta TO tocsin_broker;
GRANT SELECT, INSERT ON reads, escalations, journal_applied TO tocsin_broker;
GRANT SELECT ON alert_tallies TO tocsin_broker;
GRANT EXECUTE ON FUNCTION
    tocsin_publish(bigint, integer, text, text, text, integer[], integer[], jsonb, text,
                   timestamptz, integer[]),
    tocsin_receipt_user(integer, bigint, text),
    tocsin_ack(integer, bigint, text, timestamptz),
    tocsin_read(integer, bigint, text, timestamptz),
    tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]),
    tocsin_resume(text, integer, integer, bigint, integer),
    tocsin_receipts(integer, bigint),
    tocsin_escalate(interval, integer),
    tocsin_journal_apply(text, text, jsonb),
    tocsin_json_ints(jsonb),
    tocsin_site_guards()
    TO tocsin_broker;
