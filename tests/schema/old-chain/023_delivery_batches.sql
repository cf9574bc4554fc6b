-- 023_delivery_batches.sql: one delivery record per alert and batch of
-- recipients (issue 6, "fast").
--
-- Until now every alert frame handed to a console cost PostgreSQL a row in
-- deliveries, a 'deliver' audit row and, a few seconds later, that row's
-- seal: at 10,000 consoles and 20 alerts a second, 200,000 rows of each a
-- second on the two cores the broker also runs on, so delivery records fell
-- seconds behind and acknowledgements queued behind them. Issue 6 allows
-- delivery records to be compacted as long as an investigator still gets
-- "did site X receive alert Y, and when" from PostgreSQL. Now:
--
--   * tocsin_record_deliveries (same arguments, same result) writes one
--     delivery_batches row per alert in the broker's batch, holding the
--     recipients as parallel arrays (site, user, time of each delivery);
--   * and one 'deliver' audit row per batch row, by the broker itself
--     (actor_role 'system', actor_username 'tocsind', site_id NULL), whose
--     detail names the batch and lists who got it:
--       {"batch": ID, "count": N, "sites": [distinct sites], "users": [distinct users]}
--   * the seal of that audit row covers the whole batch row:
--     tocsin_audit_canonical appends the SHA-256 of the batch's canonical
--     bytes to a deliver row's, so editing, deleting or forging a batch row
--     breaks the chain at its deliver row and `tocsinctl audit verify`
--     names it, with no change to the sealer or to verify;
--   * deliveries becomes a view with the same columns and answers: the
--     rows written before this migration (table delivery_rows, kept as
--     they were) followed by the batches unnested, one row per delivery.
--     Asked for one alert it reads that alert's few batch rows (index on
--     alert_id), so "did site X receive alert Y, and when" stays
--       SELECT user_id, delivered_at FROM deliveries WHERE alert_id = Y AND site_id = X;
--       SELECT first_at FROM delivered_sites WHERE alert_id = Y AND site_id = X;
--   * delivered_sites and the tallies are written as before.
--
-- The `deliveries` rows of the broker's journal (DB outage) are replayed
-- through tocsin_record_deliveries too, so they are compacted the same way,
-- once (journal_applied, sql/010).
--
-- Disclosure at publish: with deliveries compacted, the 'disclose' rows (one
-- per recipient site) became 97 % of the audit rows written in the bench
-- (220,542 of 233,226 at N = 5,000, 500 sites) and, with their seals, most
-- of what PostgreSQL still wrote per alert; inserting them took 5.5-11 ms of
-- a publish to 1,034 sites against 1.8 ms for one row. tocsin_publish and
-- tocsin_relay now write one 'disclose' row per alert, by the sender as
-- before, with site_id NULL and the recipient sites in its detail:
--   {"classification": ..., "sites": [...]}  (publish, update, cancel)
--   {"relay_of": ID, "sites": [...]}          (relay)
-- `tocsinctl audit export --subject site:X` finds it through "sites"
-- (tocsin_audit_concerns, sql/015). Rows written before stay one per site.

ALTER TABLE deliveries RENAME TO delivery_rows;
ALTER INDEX deliveries_alert_site_idx RENAME TO delivery_rows_alert_site_idx;
REVOKE INSERT ON delivery_rows FROM tocsin_broker;

-- Like audit rows, batch rows are never changed and name what they must
-- outlive (no foreign keys: see sql/017). site_ids holds NULL for a
-- delivery to a session that is not a site console (a company operator).
CREATE TABLE delivery_batches (
    id            bigserial PRIMARY KEY,
    alert_id      bigint NOT NULL,
    first_at      timestamptz NOT NULL,
    n             integer NOT NULL,
    site_ids      integer[] NOT NULL,
    user_ids      integer[] NOT NULL,
    delivered_at  timestamptz[] NOT NULL,
    CHECK (n >= 1 AND cardinality(site_ids) = n AND cardinality(user_ids) = n
           AND cardinality(delivered_at) = n)
);
CREATE INDEX delivery_batches_alert_idx ON delivery_batches (alert_id);
-- Stored out of line uncompressed: compressing a 4,000-delivery batch took
-- 3-5 ms of the 6-9 ms of its insert, on the cores the broker needs, for
-- arrays of ids and times that compress poorly anyway.
ALTER TABLE delivery_batches
    ALTER COLUMN site_ids SET STORAGE EXTERNAL,
    ALTER COLUMN user_ids SET STORAGE EXTERNAL,
    ALTER COLUMN delivered_at SET STORAGE EXTERNAL;

CREATE TRIGGER delivery_batches_no_update BEFORE UPDATE OR DELETE ON delivery_batches
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER delivery_batches_no_truncate BEFORE TRUNCATE ON delivery_batches
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- One row per delivery, as the table deliveries had (without its id).
CREATE VIEW deliveries AS
SELECT r.alert_id, r.site_id, r.user_id, r.delivered_at
  FROM delivery_rows r
UNION ALL
SELECT b.alert_id, d.site_id, d.user_id, d.delivered_at
  FROM delivery_batches b
 CROSS JOIN LATERAL unnest(b.site_ids, b.user_ids, b.delivered_at)
                    AS d(site_id, user_id, delivered_at);

-- How many deliveries are recorded, without unnesting every batch (the
-- bench polls it while delivery records drain).
CREATE FUNCTION tocsin_delivery_count()
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM delivery_rows)
         + (SELECT COALESCE(sum(n), 0) FROM delivery_batches);
$$;

-- The exact bytes a deliver row's seal covers (through their SHA-256) for
-- its batch: every column, in a fixed order, in PostgreSQL's binary send
-- format (the wire protocol's, independent of session settings such as
-- TimeZone and DateStyle; NULL sites included). Binary rather than text:
-- formatting 16,000 times took 15.6 ms per batch, sending them 3.3 ms, and
-- the sealer reads every deliver row once.
CREATE FUNCTION tocsin_delivery_batch_canonical(b delivery_batches)
RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT int8send(b.id) || int8send(b.alert_id) || timestamptz_send(b.first_at)
        || int4send(b.n) || array_send(b.site_ids) || array_send(b.user_ids)
        || array_send(b.delivered_at);
$$;

-- As in 007, and for a deliver row naming a batch, followed by the SHA-256
-- (hex) of the batch's canonical bytes, or 'missing' when the batch row is
-- gone, so the seal covers the recipients and times of every delivery in
-- it. A digest rather than the bytes: a batch holds up to 16,000
-- deliveries (about 450 kB) and the sealer reads up to 5,000 rows at a time.
-- Older deliver rows (one per delivery, no "batch") keep their canonical
-- text and seals.
CREATE OR REPLACE FUNCTION tocsin_audit_canonical(a audit)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws(E'\x1f',
        a.id::text,
        to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        a.action,
        COALESCE(a.actor_user_id::text, ''),
        COALESCE(a.actor_username, ''),
        COALESCE(a.actor_role, ''),
        COALESCE(a.actor_org_id::text, ''),
        COALESCE(a.alert_id::text, ''),
        COALESCE(a.site_id::text, ''),
        COALESCE(a.remote_addr, ''),
        a.detail::text)
        || CASE WHEN a.action = 'deliver' AND a.detail ? 'batch' THEN
               E'\x1e' || COALESCE(
                   (SELECT encode(sha256(tocsin_delivery_batch_canonical(b)), 'hex')
                      FROM delivery_batches b
                     WHERE a.detail->>'batch' ~ '^[0-9]{1,18}$'
                       AND b.id = (a.detail->>'batch')::bigint),
                   'missing')
           ELSE '' END;
$$;

-- Same arguments and result as before (009): the deliveries of the broker's
-- batch, which may hold several alerts, as one batch row and one deliver
-- audit row per alert; the first delivery to each site; the new tallies.
CREATE OR REPLACE FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[],
                                                   p_users integer[], p_at timestamptz[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT * FROM unnest(p_alerts, p_sites, p_users, p_at) WITH ORDINALITY
                      AS d(alert_id, site_id, user_id, at, i)
    ), b AS (
        INSERT INTO delivery_batches (alert_id, first_at, n, site_ids, user_ids, delivered_at)
        SELECT d.alert_id, min(d.at), count(*), array_agg(d.site_id ORDER BY d.i),
               array_agg(d.user_id ORDER BY d.i), array_agg(d.at ORDER BY d.i)
          FROM d GROUP BY d.alert_id
         ORDER BY min(d.i)
        RETURNING delivery_batches.id, delivery_batches.alert_id, delivery_batches.first_at,
                  delivery_batches.n, delivery_batches.site_ids, delivery_batches.user_ids
    )
    INSERT INTO audit (at, action, actor_username, actor_role, alert_id, detail)
    SELECT b.first_at, 'deliver', 'tocsind', 'system', b.alert_id,
           jsonb_build_object(
               'batch', b.id, 'count', b.n,
               'sites', COALESCE((SELECT jsonb_agg(DISTINCT s ORDER BY s)
                                    FROM unnest(b.site_ids) AS s WHERE s IS NOT NULL),
                                 '[]'::jsonb),
               'users', (SELECT jsonb_agg(DISTINCT u ORDER BY u) FROM unnest(b.user_ids) AS u))
      FROM b ORDER BY b.id;

    INSERT INTO delivered_sites (alert_id, site_id, first_at)
    SELECT d.alert_id, d.site_id, min(d.at)
      FROM unnest(p_alerts, p_sites, p_at) AS d(alert_id, site_id, at)
     WHERE d.site_id IS NOT NULL
     GROUP BY d.alert_id, d.site_id
    ON CONFLICT DO NOTHING;

    RETURN QUERY
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged, t.read,
           t.escalated, t.watcher_org_id
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
END
$$;

-- As in 015, and a user's deliveries are now found in the users a deliver
-- row lists (its actor is the broker).
CREATE OR REPLACE FUNCTION tocsin_audit_concerns(a audit, p_type text, p_value text,
                                                 p_num bigint, p_site integer, p_user integer)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_type
        WHEN 'alert' THEN
            a.alert_id = p_num
            OR a.detail @> jsonb_build_object('alerts', jsonb_build_array(p_num))
            OR a.detail->>'of' = p_value OR a.detail->>'relay_of' = p_value
            OR a.detail->>'references' = p_value
        WHEN 'site' THEN
            a.site_id = p_site
            OR a.detail @> jsonb_build_object('recipients', jsonb_build_array(p_site))
            OR a.detail @> jsonb_build_object('sites', jsonb_build_array(p_site))
            OR a.detail @> jsonb_build_object('asked', jsonb_build_array(p_site))
            -- a status board view shows every site in its scope
            OR (a.action = 'view_board'
                AND (a.detail->>'scope' = 'all'
                     OR COALESCE((a.detail->>'org_id')::integer, a.actor_org_id)
                        = (SELECT s.guard_org_id FROM sites s WHERE s.id = p_site)))
        WHEN 'image' THEN
            a.detail->>'image_id' = p_value OR a.detail->>'image' = p_value
            OR a.detail @> jsonb_build_object('images',
                                              jsonb_build_array(jsonb_build_object('image_id', p_value)))
        WHEN 'report' THEN
            (a.action IN ('status_report', 'partner_report') AND a.detail->>'report_id' = p_value)
            OR a.detail @> jsonb_build_object('reports', jsonb_build_array(p_num))
        WHEN 'user' THEN
            a.actor_username = p_value OR a.actor_user_id = p_user
            OR a.detail->>'username' = p_value
            OR a.detail->>'user_id' = p_user::text
            OR a.detail->>'uploader_user_id' = p_user::text
            -- new in 023: deliveries to the user's sessions
            OR (a.action = 'deliver'
                AND a.detail @> jsonb_build_object('users', jsonb_build_array(p_user)))
        WHEN 'org' THEN
            a.actor_org_id = p_num
            OR a.detail->>'uploader_org_id' = p_value
            OR a.detail->>'org_id' = p_value
        ELSE true
    END;
$$;

-- tocsin_publish as in 006 and tocsin_relay as in 016, each with its
-- disclosure written as one row listing the recipient sites (marked "new
-- in 023").
CREATE OR REPLACE FUNCTION tocsin_publish(p_alert_id bigint, p_user_id integer, p_rec jsonb,
                               p_remote text, p_recipients integer[])
RETURNS TABLE (alert_id bigint, seq bigint, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, target_roles text[],
               classification text, alert json, existed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE;
    a        alerts%ROWTYPE;
    ref      alerts%ROWTYPE;
    pos      bigint;
    fresh    boolean := true;
    v_type   text := COALESCE(p_rec->>'msg_type', 'alert');
    v_at     timestamptz := COALESCE((p_rec->>'at')::timestamptz, clock_timestamp());
BEGIN
    SELECT * INTO a FROM alerts WHERE id = p_alert_id;
    IF FOUND THEN
        fresh := false;
    ELSE
        SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
        IF NOT FOUND OR u.role NOT IN ('controller', 'analyst') THEN
            RAISE EXCEPTION 'this user may not publish' USING ERRCODE = 'TS403';
        END IF;
        IF v_type <> 'alert' THEN
            SELECT * INTO ref FROM alerts WHERE id = (p_rec->>'references')::bigint;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no alert with id %', p_rec->>'references'
                    USING ERRCODE = 'TS404', COLUMN = 'references';
            END IF;
            IF ref.sender_org_id <> u.org_id THEN
                RAISE EXCEPTION 'only the organisation that sent an alert may update or cancel it'
                    USING ERRCODE = 'TS403';
            END IF;
            IF ref.cancelled_at IS NOT NULL THEN
                RAISE EXCEPTION 'alert % is already cancelled', ref.id
                    USING ERRCODE = 'TS422', COLUMN = 'references';
            END IF;
            -- an expired alert stays expired unless an update gives it a
            -- new expiry: nothing past its expires is delivered again
            IF COALESCE((p_rec->>'expires')::timestamptz, ref.expires) <= v_at THEN
                RAISE EXCEPTION 'alert % has expired%', ref.id,
                    CASE WHEN v_type = 'update' THEN '; give a new expires to revive it' ELSE '' END
                    USING ERRCODE = 'TS422', COLUMN = 'references';
            END IF;
        END IF;
        IF (p_rec->>'expires')::timestamptz <= v_at THEN
            RAISE EXCEPTION 'expires must be in the future'
                USING ERRCODE = 'TS422', COLUMN = 'expires';
        END IF;

        UPDATE stream_meta SET head = head + 1 RETURNING head INTO pos;
        INSERT INTO alerts (id, seq, sender_user_id, sender_org_id, headline, body, severity,
                            targets, sent_at, status, msg_type, references_id, category,
                            urgency, certainty, instruction, effective, expires, area,
                            classification, handling, request, target_roles)
        VALUES (p_alert_id, pos, u.id, u.org_id,
                COALESCE(p_rec->>'headline', ref.headline),
                COALESCE(p_rec->>'body', CASE WHEN v_type = 'alert' THEN '' ELSE ref.body END),
                COALESCE(p_rec->>'severity', ref.severity),
                COALESCE(p_rec->'targets', ref.targets), v_at,
                COALESCE(p_rec->>'status', ref.status, 'actual'), v_type, ref.id,
                COALESCE(p_rec->>'category', ref.category, 'advice'),
                COALESCE(p_rec->>'urgency', ref.urgency, 'unknown'),
                COALESCE(p_rec->>'certainty', ref.certainty, 'unknown'),
                COALESCE(p_rec->>'instruction', ref.instruction, ''),
                (p_rec->>'effective')::timestamptz,
                COALESCE((p_rec->>'expires')::timestamptz, ref.expires),
                COALESCE(p_rec->'area', ref.area),
                COALESCE(p_rec->>'classification', ref.classification, 'OFFICIAL'),
                COALESCE(p_rec->>'handling', ref.handling, ''),
                COALESCE(p_rec->'request', ref.request),
                COALESCE(ARRAY(SELECT jsonb_array_elements_text(p_rec->'targets'->'roles')),
                         '{}') )
        RETURNING * INTO a;
        IF cardinality(a.target_roles) = 0 THEN
            UPDATE alerts SET target_roles = COALESCE(ref.target_roles,
                                                      '{site_console,company_operator}')
             WHERE id = a.id RETURNING * INTO a;
        END IF;

        IF p_recipients IS NOT NULL THEN
            INSERT INTO alert_recipients (alert_id, site_id)
            SELECT a.id, s.id FROM sites s WHERE s.id = ANY (p_recipients);
        ELSIF v_type <> 'alert' THEN
            -- the same recipients, less any that a raised classification
            -- no longer allows
            INSERT INTO alert_recipients (alert_id, site_id)
            SELECT a.id, r.site_id FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = ref.id
               AND (a.classification <> 'OFFICIAL-SENSITIVE' OR s.cleared_sensitive);
        ELSE
            INSERT INTO alert_recipients (alert_id, site_id)
            SELECT a.id, t.site_id FROM tocsin_resolve_targets(p_rec) t WHERE t.included;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the targets resolve to no site'
                USING ERRCODE = 'TS422', COLUMN = 'targets';
        END IF;
        IF v_type = 'cancel' THEN
            -- the whole chain: the original and every update of it
            UPDATE alerts SET cancelled_at = v_at
             WHERE cancelled_at IS NULL AND msg_type <> 'cancel'
               AND (id IN (ref.id, COALESCE(ref.references_id, ref.id))
                    OR references_id IN (ref.id, COALESCE(ref.references_id, ref.id)));
        END IF;
        IF jsonb_array_length(COALESCE(p_rec->'images', '[]')) > 0 THEN
            PERFORM tocsin_attach_images(a.id, u.id,
                ARRAY(SELECT jsonb_array_elements_text(p_rec->'images')),
                COALESCE((p_rec->>'image_days')::integer, 90));
        END IF;

        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, remote_addr, detail)
        VALUES (a.sent_at, CASE v_type WHEN 'alert' THEN 'publish' ELSE v_type END,
                u.id, u.username, u.role, u.org_id, a.id, p_remote,
                jsonb_build_object('headline', a.headline, 'severity', a.severity,
                                   'status', a.status, 'classification', a.classification,
                                   'references', a.references_id, 'targets', a.targets,
                                   'seq', a.seq, 'journaled', p_recipients IS NOT NULL,
                                   'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                    FROM alert_recipients r
                                                   WHERE r.alert_id = a.id)));
        -- disclosure (DPA 2018 s.62): one row naming every recipient site
        -- (new in 023; it was one row per site)
        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, detail)
        VALUES (a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id,
                jsonb_build_object('classification', a.classification,
                                   'sites', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                               FROM alert_recipients r
                                              WHERE r.alert_id = a.id)));
    END IF;

    RETURN QUERY
    SELECT a.id, a.seq,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           (SELECT array_agg(DISTINCT s.guard_org_id ORDER BY s.guard_org_id)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = a.id),
           a.sender_org_id, a.target_roles, a.classification, tocsin_alert_json(a.id),
           NOT fresh;
END
$$;

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
    -- disclosure: one row naming every recipient site (new in 023)
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, detail)
    VALUES (a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id,
            jsonb_build_object('relay_of', o.id,
                               'sites', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                           FROM alert_recipients r WHERE r.alert_id = a.id)));

    RETURN QUERY
    SELECT a.id, a.seq,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           u.org_id, (SELECT name FROM organisations WHERE id = u.org_id), o.sender_org_id,
           a.classification, tocsin_alert_json(a.id);
END
$$;

GRANT SELECT, INSERT ON delivery_batches TO tocsin_broker;
GRANT USAGE ON SEQUENCE delivery_batches_id_seq TO tocsin_broker;
GRANT SELECT ON deliveries TO tocsin_broker;
GRANT EXECUTE ON FUNCTION tocsin_delivery_count(),
                          tocsin_delivery_batch_canonical(delivery_batches)
    TO tocsin_broker;
