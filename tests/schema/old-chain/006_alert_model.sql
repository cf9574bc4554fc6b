-- 006_alert_model.sql: alerts shaped by OASIS CAP 1.2, targeting by
-- organisation, sector, site, role and area, OFFICIAL-SENSITIVE clearance,
-- update and cancel, expiry, relay by security companies, and requests
-- with answers. Uses tocsin_point_in_area (004) and tocsin_attach_images /
-- tocsin_alert_images (005) at run time.

-- tocsin_point_in_area comes from 004_status.sql; a database migrated
-- before 004 existed gets the same definition here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'tocsin_point_in_area') THEN
        EXECUTE $f$
        CREATE FUNCTION tocsin_point_in_area(p_lat double precision, p_lon double precision,
                                             p_area jsonb)
        RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $b$
        DECLARE
            pts jsonb := p_area->'polygon';
            n int; inside boolean := false; i int; j int;
            yi double precision; xi double precision; yj double precision; xj double precision;
        BEGIN
            IF p_area ? 'circle' THEN
                RETURN 2 * 6371008.8 * asin(sqrt(
                    power(sin(radians(p_lat - (p_area->'circle'->>'lat')::float8) / 2), 2) +
                    cos(radians(p_lat)) * cos(radians((p_area->'circle'->>'lat')::float8)) *
                    power(sin(radians(p_lon - (p_area->'circle'->>'lon')::float8) / 2), 2)))
                    <= (p_area->'circle'->>'radius_m')::float8;
            END IF;
            n := jsonb_array_length(pts);
            j := n - 1;
            FOR i IN 0 .. n - 1 LOOP
                yi := (pts->i->>0)::float8; xi := (pts->i->>1)::float8;
                yj := (pts->j->>0)::float8; xj := (pts->j->>1)::float8;
                IF ((yi > p_lat) <> (yj > p_lat)) AND
                   (p_lon < (xj - xi) * (p_lat - yi) / (yj - yi) + xi) THEN
                    inside := NOT inside;
                END IF;
                j := i;
            END LOOP;
            RETURN inside;
        END
        $b$;
        $f$;
        EXECUTE 'GRANT EXECUTE ON FUNCTION tocsin_point_in_area(double precision, double precision, jsonb) TO tocsin_broker';
    END IF;
END
$$;

ALTER TABLE sites ADD COLUMN cleared_sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN cleared_sensitive boolean NOT NULL DEFAULT false;

ALTER TABLE alerts
    ADD COLUMN status          text NOT NULL DEFAULT 'actual'
        CHECK (status IN ('actual', 'exercise', 'test')),
    ADD COLUMN msg_type        text NOT NULL DEFAULT 'alert'
        CHECK (msg_type IN ('alert', 'update', 'cancel')),
    ADD COLUMN references_id   bigint REFERENCES alerts (id),
    ADD COLUMN category        text NOT NULL DEFAULT 'advice'
        CHECK (category IN ('live_incident', 'planned_event', 'crime_pattern', 'offender',
                            'request', 'advice', 'major_incident')),
    ADD COLUMN urgency         text NOT NULL DEFAULT 'unknown'
        CHECK (urgency IN ('immediate', 'expected', 'future', 'past', 'unknown')),
    ADD COLUMN certainty       text NOT NULL DEFAULT 'unknown'
        CHECK (certainty IN ('observed', 'likely', 'possible', 'unlikely', 'unknown')),
    ADD COLUMN instruction     text NOT NULL DEFAULT '' CHECK (length(instruction) <= 2000),
    ADD COLUMN effective       timestamptz,
    ADD COLUMN expires         timestamptz,
    ADD COLUMN area            jsonb,
    ADD COLUMN classification  text NOT NULL DEFAULT 'OFFICIAL'
        CHECK (classification IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
    ADD COLUMN handling        text NOT NULL DEFAULT '' CHECK (length(handling) <= 500),
    ADD COLUMN request         jsonb,
    ADD COLUMN target_roles    text[] NOT NULL DEFAULT '{site_console,company_operator}',
    ADD COLUMN relay_of        bigint REFERENCES alerts (id),
    ADD COLUMN relay_note      text,
    ADD COLUMN cancelled_at    timestamptz,
    ADD CHECK ((msg_type = 'alert') = (references_id IS NULL) OR relay_of IS NOT NULL);

CREATE INDEX alerts_relay_of_idx ON alerts (relay_of) WHERE relay_of IS NOT NULL;
CREATE INDEX alerts_references_idx ON alerts (references_id) WHERE references_id IS NOT NULL;

-- Every answer to a request; the latest per site counts.
CREATE TABLE answers (
    id           bigserial PRIMARY KEY,
    alert_id     bigint NOT NULL,
    site_id      integer NOT NULL,
    user_id      integer NOT NULL REFERENCES users (id),
    choice       text,
    number       bigint,
    answered_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id),
    CHECK ((choice IS NULL) <> (number IS NULL))
);
CREATE INDEX answers_alert_site_idx ON answers (alert_id, site_id, id DESC);

-- Who watches an alert's receipts: its sender, and for a relay also the
-- organisation that sent the original.
CREATE OR REPLACE VIEW alert_tallies AS
SELECT a.id AS alert_id,
       a.sender_org_id,
       (SELECT count(*) FROM alert_recipients r WHERE r.alert_id = a.id) AS recipients,
       (SELECT count(DISTINCT d.site_id) FROM deliveries d WHERE d.alert_id = a.id) AS delivered,
       (SELECT count(*) FROM acks k WHERE k.alert_id = a.id) AS acknowledged,
       (SELECT count(*) FROM reads x WHERE x.alert_id = a.id) AS read,
       (SELECT count(*) FROM escalations e WHERE e.alert_id = a.id) AS escalated,
       a.relay_of,
       (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of) AS watcher_org_id
FROM alerts a;

-- The alert as every frame shows it (docs/protocol.md, "Alerts in full").
CREATE FUNCTION tocsin_alert_json(p_alert_id bigint)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    result json;
    imgs   json := '[]'::json;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'tocsin_alert_images') THEN
        EXECUTE 'SELECT tocsin_alert_images($1)' INTO imgs USING p_alert_id;
    END IF;
    SELECT json_build_object(
        'id', a.id, 'seq', a.seq, 'status', a.status, 'msg_type', a.msg_type,
        'references', a.references_id, 'category', a.category, 'urgency', a.urgency,
        'severity', a.severity, 'certainty', a.certainty, 'headline', a.headline,
        'body', a.body, 'instruction', a.instruction,
        'sent_at', to_char(a.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'effective', to_char(COALESCE(a.effective, a.sent_at) AT TIME ZONE 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'expires', to_char(a.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'area', a.area, 'classification', a.classification, 'handling', a.handling,
        'request', a.request, 'images', COALESCE(imgs, '[]'::json),
        'cancelled', a.cancelled_at IS NOT NULL,
        'relay', CASE WHEN a.relay_of IS NULL THEN NULL ELSE json_build_object(
                     'of', a.relay_of, 'note', a.relay_note, 'by_org_id', a.sender_org_id,
                     'by_org_name', o.name) END,
        'sender', json_build_object('user_id', u.id, 'display_name', u.display_name,
                                    'org_id', o.id, 'org_name', o.name))
      INTO result
      FROM alerts a JOIN users u ON u.id = a.sender_user_id
      JOIN organisations o ON o.id = a.sender_org_id
     WHERE a.id = p_alert_id;
    RETURN result;
END
$$;

-- Which sites the targets reach, and which OFFICIAL-SENSITIVE leaves out.
-- Named sites are always in; orgs, sectors and area are filters that must
-- all hold (docs/protocol.md, "Targeting").
CREATE FUNCTION tocsin_resolve_targets(p_rec jsonb)
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
           NOT v_secret OR s.cleared_sensitive,
           CASE WHEN v_secret AND NOT s.cleared_sensitive
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

CREATE FUNCTION tocsin_preview(p_user_id integer, p_rec jsonb)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id AND NOT disabled
                    AND role IN ('controller', 'analyst')) THEN
        RAISE EXCEPTION 'this user may not publish' USING ERRCODE = 'TS403';
    END IF;
    RETURN (SELECT json_build_object(
        'count', count(*) FILTER (WHERE t.included),
        'recipients', COALESCE(json_agg(json_build_object('site_id', t.site_id, 'name', t.site_name,
                                                          'sector', t.sector,
                                                          'guard_org_id', t.guard_org_id)
                                        ORDER BY t.site_name) FILTER (WHERE t.included), '[]'),
        'excluded', COALESCE(json_agg(json_build_object('site_id', t.site_id, 'name', t.site_name,
                                                        'reason', t.reason)
                                      ORDER BY t.site_name) FILTER (WHERE NOT t.included), '[]'))
      FROM tocsin_resolve_targets(p_rec) t);
END
$$;

DROP FUNCTION tocsin_journal_apply(text, text, jsonb);
DROP FUNCTION tocsin_publish(bigint, integer, text, text, text, integer[], integer[], jsonb,
                             text, timestamptz, integer[]);

-- tocsin_publish: store an alert with the id the broker gave it. p_rec is
-- the checked request (docs/protocol.md) plus "at"; p_recipients, when
-- given (journal replay), are the recipients resolved while the database
-- was away. Publishing the same id twice changes nothing.
CREATE FUNCTION tocsin_publish(p_alert_id bigint, p_user_id integer, p_rec jsonb,
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
        -- disclosure: one row per recipient site (DPA 2018 s.62)
        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, site_id, detail)
        SELECT a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id, r.site_id,
               jsonb_build_object('classification', a.classification)
          FROM alert_recipients r WHERE r.alert_id = a.id;
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

-- tocsin_relay: a company operator passes a force alert on to some or all
-- of the sites its company guards, with a note. The relay is an alert of
-- its own (relay_of = the original) whose receipts the force also sees.
CREATE FUNCTION tocsin_relay(p_alert_id bigint, p_user_id integer, p_of bigint,
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

-- tocsin_answer: a site's answer to a request; every answer is kept.
CREATE FUNCTION tocsin_answer(p_user_id integer, p_alert_id bigint, p_choice text,
                              p_number bigint, p_remote text)
RETURNS TABLE (alert_id bigint, answered_at text, sender_org_id integer,
               watcher_org_id integer, summary json)
LANGUAGE plpgsql AS $$
DECLARE
    u    users%ROWTYPE := tocsin_receipt_user(p_user_id, p_alert_id, 'answer');
    a    alerts%ROWTYPE;
    req  jsonb;
    w    timestamptz := clock_timestamp();
BEGIN
    SELECT * INTO a FROM alerts WHERE id = p_alert_id;
    req := a.request;
    IF req IS NULL THEN
        RAISE EXCEPTION 'alert % asks for no answer', p_alert_id
            USING ERRCODE = 'TS422', COLUMN = 'alert_id';
    END IF;
    IF req->>'kind' = 'choice' THEN
        IF p_choice IS NULL OR NOT (req->'options' ? p_choice) THEN
            RAISE EXCEPTION 'choice must be one of %', req->'options'
                USING ERRCODE = 'TS422', COLUMN = 'choice';
        END IF;
    ELSE
        IF p_number IS NULL OR p_number < COALESCE((req->>'min')::bigint, 0)
           OR p_number > COALESCE((req->>'max')::bigint, 1000000) THEN
            RAISE EXCEPTION 'number must be from % to %', COALESCE(req->>'min', '0'),
                COALESCE(req->>'max', '1000000') USING ERRCODE = 'TS422', COLUMN = 'number';
        END IF;
    END IF;
    INSERT INTO answers (alert_id, site_id, user_id, choice, number, answered_at)
    VALUES (p_alert_id, u.site_id, u.id,
            CASE WHEN req->>'kind' = 'choice' THEN p_choice END,
            CASE WHEN req->>'kind' = 'number' THEN p_number END, w);
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES (w, 'answer', u.id, u.username, u.role, u.org_id, p_alert_id, u.site_id, p_remote,
            jsonb_build_object('choice', p_choice, 'number', p_number));
    RETURN QUERY
    SELECT p_alert_id, to_char(w AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           a.sender_org_id, (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of),
           tocsin_answers_summary(p_alert_id);
END
$$;

-- The live tally of a request: latest answer per site.
CREATE FUNCTION tocsin_answers_summary(p_alert_id bigint)
RETURNS json
LANGUAGE sql STABLE AS $$
    WITH latest AS (
        SELECT DISTINCT ON (x.site_id) x.site_id, s.name AS site_name, x.choice, x.number,
               x.answered_at
          FROM answers x JOIN sites s ON s.id = x.site_id
         WHERE x.alert_id = p_alert_id
         ORDER BY x.site_id, x.id DESC)
    SELECT json_build_object(
        'by_choice', COALESCE((SELECT json_object_agg(c, n) FROM
                                  (SELECT choice AS c, count(*) AS n FROM latest
                                    WHERE choice IS NOT NULL GROUP BY choice) g), '{}'::json),
        'sum', (SELECT sum(number) FROM latest),
        'answered', (SELECT count(*) FROM latest),
        'recipients', (SELECT count(*) FROM alert_recipients WHERE alert_id = p_alert_id),
        'by_site', COALESCE((SELECT json_agg(json_build_object(
                        'site_id', site_id, 'site_name', site_name,
                        'answer', COALESCE(choice, number::text),
                        'at', to_char(answered_at AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY site_name)
                             FROM latest), '[]'::json));
$$;

-- Resume: alerts still in force (not expired, not cancelled), with the
-- full alert object.
DROP FUNCTION tocsin_resume(text, integer, integer, bigint, integer);
CREATE FUNCTION tocsin_resume(p_role text, p_site_id integer, p_org_id integer,
                              p_after bigint, p_limit integer, p_cleared boolean)
RETURNS TABLE (id bigint, seq bigint, alert json)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.seq, tocsin_alert_json(a.id)
      FROM alerts a
     WHERE a.seq > p_after
       AND (a.expires IS NULL OR a.expires > now())
       AND a.cancelled_at IS NULL
       AND p_role = ANY (a.target_roles)
       AND (a.classification <> 'OFFICIAL-SENSITIVE' OR p_cleared)
       AND EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                    WHERE r.alert_id = a.id
                      AND ((p_role = 'site_console' AND r.site_id = p_site_id)
                        OR (p_role = 'company_operator' AND s.guard_org_id = p_org_id)))
     ORDER BY a.seq
     LIMIT p_limit;
$$;

-- Escalation returns the full alert too and skips expired and cancelled.
DROP FUNCTION tocsin_escalate(interval, integer);
CREATE FUNCTION tocsin_escalate(p_after interval, p_limit integer)
RETURNS TABLE (alert_id bigint, site_id integer, site_name text, guard_org_id integer,
               escalated_at text, seq bigint, sender_org_id integer, watcher_org_id integer,
               alert json)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT r.alert_id, r.site_id
          FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id
         WHERE a.severity IN ('severe', 'extreme')
           AND a.msg_type <> 'cancel' AND a.cancelled_at IS NULL
           AND (a.expires IS NULL OR a.expires > now())
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
           a.seq, a.sender_org_id,
           (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of),
           tocsin_alert_json(a.id)
      FROM claimed c
      JOIN alerts a ON a.id = c.alert_id
      JOIN sites s ON s.id = c.site_id
     ORDER BY a.seq, c.site_id;
END
$$;

-- Tallies now name the organisation that also watches a relay.
DROP FUNCTION tocsin_ack(integer, bigint, text, timestamptz);
DROP FUNCTION tocsin_read(integer, bigint, text, timestamptz);
DROP FUNCTION tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]);

CREATE FUNCTION tocsin_ack(p_user_id integer, p_alert_id bigint, p_remote text,
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

CREATE FUNCTION tocsin_read(p_user_id integer, p_alert_id bigint, p_remote text,
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

CREATE FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[],
                                         p_users integer[], p_at timestamptz[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
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
           t.escalated, t.watcher_org_id
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
END
$$;

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
            PERFORM tocsin_publish((r->>'alert_id')::bigint, (r->>'user_id')::integer, r,
                                   r->>'remote', tocsin_json_ints(r->'recipients'));
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

-- What the broker keeps in memory for degraded-mode targeting.
DROP FUNCTION tocsin_site_guards();
CREATE FUNCTION tocsin_site_guards()
RETURNS TABLE (site_id integer, guard_org_id integer, cleared boolean)
LANGUAGE sql STABLE AS $$
    SELECT id, guard_org_id, cleared_sensitive FROM sites ORDER BY id;
$$;

-- Receipts: the sending organisation's desk (controllers and analysts of
-- the force, or the operators of a relaying company), the organisation
-- that sent the original of a relay, and admins.
CREATE OR REPLACE FUNCTION tocsin_receipts_allowed(p_user_id integer, p_alert_id bigint)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u, alerts a
         WHERE u.id = p_user_id AND NOT u.disabled AND a.id = p_alert_id
           AND (u.role = 'admin'
                OR (u.role IN ('controller', 'analyst', 'company_operator')
                    AND (u.org_id = a.sender_org_id
                         OR u.org_id = (SELECT o.sender_org_id FROM alerts o
                                         WHERE o.id = a.relay_of)))));
$$;

CREATE OR REPLACE FUNCTION tocsin_receipts(p_user_id integer, p_alert_id bigint)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert_id) THEN
        RAISE EXCEPTION 'no alert with id %', p_alert_id
            USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    IF NOT tocsin_receipts_allowed(p_user_id, p_alert_id) THEN
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
                                         FILTER (WHERE acked_at IS NULL), '[]'::json),
            'relays', COALESCE((SELECT json_agg(json_build_object(
                          'alert_id', x.id, 'by_org_id', x.sender_org_id, 'note', x.relay_note,
                          'sites', (SELECT json_agg(r2.site_id ORDER BY r2.site_id)
                                      FROM alert_recipients r2 WHERE r2.alert_id = x.id))
                          ORDER BY x.id)
                                  FROM alerts x WHERE x.relay_of = p_alert_id), '[]'::json))
          FROM per_site);
END
$$;

GRANT EXECUTE ON FUNCTION tocsin_receipts_allowed(integer, bigint) TO tocsin_broker;
GRANT SELECT, INSERT ON answers TO tocsin_broker;
GRANT UPDATE (cancelled_at, target_roles) ON alerts TO tocsin_broker;
GRANT SELECT ON alert_tallies TO tocsin_broker;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tocsin_broker;
GRANT EXECUTE ON FUNCTION
    tocsin_alert_json(bigint),
    tocsin_resolve_targets(jsonb),
    tocsin_preview(integer, jsonb),
    tocsin_publish(bigint, integer, jsonb, text, integer[]),
    tocsin_relay(bigint, integer, bigint, integer[], text, text),
    tocsin_answer(integer, bigint, text, bigint, text),
    tocsin_answers_summary(bigint),
    tocsin_resume(text, integer, integer, bigint, integer, boolean),
    tocsin_escalate(interval, integer),
    tocsin_ack(integer, bigint, text, timestamptz),
    tocsin_read(integer, bigint, text, timestamptz),
    tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]),
    tocsin_journal_apply(text, text, jsonb),
    tocsin_site_guards()
    TO tocsin_broker;
