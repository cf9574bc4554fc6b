-- alerts.sql: publishing, relaying, answering and resuming alerts, their
-- escalation, and the replay of the broker's journal (the tables are in
-- sql/schema/03_alerts.sql).
--
-- Alerts are shaped by OASIS CAP 1.2: targeting by organisation, sector,
-- site, role and area, OFFICIAL-SENSITIVE clearance, update and cancel,
-- expiry, relay by security companies, and requests with answers. Every
-- function takes the user's identity from the broker's authenticated
-- session (p_user_id), never from the message, and checks it again here.
-- Errors carry SQLSTATE TS4xx and the offending field in COLUMN, which the
-- broker turns into a typed error frame.

-- A JSON array of integers as an integer[], in order.
CREATE OR REPLACE FUNCTION tocsin_json_ints(p jsonb) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(array_agg(e::integer ORDER BY i), '{}')
      FROM jsonb_array_elements_text(COALESCE(p, '[]'::jsonb)) WITH ORDINALITY AS t(e, i);
$$;

-- The alert as every frame shows it (docs/protocol.md, "Alerts in full").
-- (It looks tocsin_alert_images up at run time, as it did when images came
-- after the alert model.)
CREATE OR REPLACE FUNCTION tocsin_alert_json(p_alert_id bigint)
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
        'request', a.request, 'images', COALESCE(imgs, '[]'::json), 'cap_info', a.cap_info,
        'cancelled', a.cancelled_at IS NOT NULL,
        'relay', CASE WHEN a.relay_of IS NULL THEN NULL ELSE json_build_object(
                     'of', a.relay_of, 'note', a.relay_note, 'by_org_id', a.sender_org_id,
                     'by_org_name', o.name) END,
        'sender', json_build_object('user_id', u.id, 'display_name', u.display_name,
                                    'org_id', o.id, 'org_name', o.name),
        'source', CASE WHEN ad.id IS NULL THEN json_build_object('kind', 'person')
                       ELSE json_build_object('kind', 'adapter', 'adapter', ad.name,
                                              'origin', a.origin) END)
      INTO result
      FROM alerts a JOIN users u ON u.id = a.sender_user_id
      JOIN organisations o ON o.id = a.sender_org_id
      LEFT JOIN adapters ad ON ad.id = a.source_adapter_id
     WHERE a.id = p_alert_id;
    RETURN result;
END
$$;

-- Which sites the targets reach, and which are left out and why. Named
-- sites, and those the CAP geocodes name (tocsin_geocode_sites,
-- sql/functions/geocode.sql), are always in; orgs, sectors and area are filters that must all
-- hold (docs/protocol.md, "Targeting"). A site that is not cleared is left
-- out of an OFFICIAL-SENSITIVE alert; a disabled site is left out of every
-- alert (included false, reason 'site disabled'), named or matched, so
-- neither its consoles nor its guarding company's operators get alerts for
-- it; the preview shows it among the excluded.
CREATE OR REPLACE FUNCTION tocsin_resolve_targets(p_rec jsonb)
RETURNS TABLE (site_id integer, site_name text, sector text, guard_org_id integer,
               included boolean, reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t          jsonb := COALESCE(p_rec->'targets', '{}'::jsonb);
    v_orgs     integer[] := tocsin_json_ints(t->'orgs');
    v_sites    integer[] := tocsin_json_ints(t->'sites');
    v_geo      integer[] := tocsin_geocode_sites(t->'geocodes');
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
           NOT s.disabled AND (NOT v_secret OR s.cleared_sensitive),
           CASE WHEN s.disabled THEN 'site disabled'
                WHEN v_secret AND NOT s.cleared_sensitive
                THEN 'not cleared for OFFICIAL-SENSITIVE' END
      FROM sites s JOIN sectors x ON x.id = s.sector_id
     WHERE s.id = ANY (v_sites) OR s.id = ANY (v_geo)
        OR (v_filter
            AND (cardinality(v_orgs) = 0 OR s.guard_org_id = ANY (v_orgs))
            AND (cardinality(v_sectors) = 0 OR x.code = ANY (v_sectors))
            AND (NOT v_area OR tocsin_point_in_area(s.lat, s.lon, p_rec->'area')))
     ORDER BY s.id;
END
$$;

-- What a publish of p_rec would reach, for the controller's preview.
CREATE OR REPLACE FUNCTION tocsin_preview(p_user_id integer, p_rec jsonb)
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

-- The chain a cancel of alert p_ref ends: the alert it names, the
-- original of that (when p_ref is an update) and every update of either,
-- and the companies' relays of all of them (a relay leaves force with the
-- alert it relays: migration 042).
CREATE OR REPLACE FUNCTION tocsin_chain(p_ref bigint)
RETURNS TABLE (id bigint)
LANGUAGE sql STABLE AS $$
    WITH named AS (
        SELECT a.id FROM alerts r JOIN alerts a
            ON a.id IN (r.id, COALESCE(r.references_id, r.id))
            OR a.references_id IN (r.id, COALESCE(r.references_id, r.id))
         WHERE r.id = p_ref)
    SELECT n.id FROM named n
    UNION
    SELECT x.id FROM alerts x WHERE x.relay_of IN (SELECT n.id FROM named n);
$$;

-- An imported alert links the pending imports that refer to it (an Update
-- or Cancel that came before its original, held with the CAP references
-- it named, cap_references "sender,identifier,sent"): their alert_id is
-- set, so the inbox shows which alert they belong with and a controller
-- publishes them as its update or cancel. Audited as report_updated.
CREATE OR REPLACE FUNCTION tocsin_cap_pending_link(a alerts) RETURNS void
LANGUAGE sql AS $$
    WITH linked AS (
        UPDATE partner_reports p SET alert_id = a.id
         WHERE p.kind = 'cap_import' AND p.handled_at IS NULL AND p.alert_id IS NULL
           AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                           CASE WHEN jsonb_typeof(p.cap->'cap_references') = 'array'
                                THEN p.cap->'cap_references' ELSE '[]' END) r
                        WHERE split_part(r, ',', 1) = a.origin->>'sender'
                          AND split_part(r, ',', 2) = a.origin->>'identifier')
        RETURNING p.id)
    INSERT INTO audit (at, action, actor_username, actor_role, alert_id, detail)
    SELECT a.sent_at, 'report_updated', 'tocsind', 'cap_import', a.id,
           jsonb_build_object('report_id', l.id, 'alert_id', a.id,
                              'why', 'the CAP message it refers to was imported')
      FROM linked l;
$$;

-- The publish request of a release of pending import p_rec.pending_import
-- (tocsin_publish), with the import's origin, cap_info and adapter; the
-- item is locked until the publish commits, so two controllers cannot both
-- release it. TS422 naming pending_import when it is not an open one.
CREATE OR REPLACE FUNCTION tocsin_cap_pending_take(p_rec jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r   partner_reports%ROWTYPE;
    ad  integer;
BEGIN
    SELECT * INTO r FROM partner_reports
     WHERE id = (p_rec->>'pending_import')::bigint AND kind = 'cap_import' FOR UPDATE;
    IF NOT FOUND OR r.handled_at IS NOT NULL THEN
        RAISE EXCEPTION 'no open pending import %', p_rec->>'pending_import'
            USING ERRCODE = 'TS422', COLUMN = 'pending_import';
    END IF;
    SELECT s.adapter_id INTO ad FROM adapter_submissions s WHERE s.report_id = r.id LIMIT 1;
    RETURN p_rec || jsonb_strip_nulls(jsonb_build_object(
        'origin', r.cap->'origin', 'cap_info', r.cap->'cap_info', 'adapter_id', ad));
END
$$;

-- tocsin_cap_pending_reject: a controller or analyst closes pending import
-- p_report_id without publishing it, for p_reason (1 to 500 characters,
-- checked by the broker): the item is handled by them, keeps the reason
-- (reject_reason, 064_cap_import_reject) and writes one audit row
-- report_updated (change 'rejected', with the reason and the import's CAP
-- identifier and sender), in one transaction; locked as a publish of it
-- locks it, so an import is published or rejected, once. Returns the
-- report as it now is. TS403 for another role; TS404 naming report_id
-- when there is no such report; TS409 naming report_id when it is not a
-- pending import or is no longer open (published, rejected or handled).
CREATE OR REPLACE FUNCTION tocsin_cap_pending_reject(p_user_id integer, p_report_id bigint,
                                                     p_reason text, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u   users%ROWTYPE := tocsin_status_user(p_user_id, '{controller,analyst}',
                                            'reject a pending CAP import');
    p   partner_reports%ROWTYPE := tocsin_report_lock(p_report_id);
BEGIN
    IF p.kind <> 'cap_import' THEN
        RAISE EXCEPTION 'report % is not a pending CAP import', p_report_id
            USING ERRCODE = 'TS409', COLUMN = 'report_id';
    END IF;
    IF p.handled_at IS NOT NULL THEN
        RAISE EXCEPTION 'pending import % is already closed', p_report_id
            USING ERRCODE = 'TS409', COLUMN = 'report_id';
    END IF;
    PERFORM tocsin_report_audit(u, p.id, 'rejected', NULL,
                                jsonb_build_object('reason', p_reason,
                                                   'identifier', p.cap->'origin'->'identifier',
                                                   'sender', p.cap->'origin'->'sender'),
                                p_remote);
    UPDATE partner_reports
       SET handled_at = clock_timestamp(), handled_by = u.id, reject_reason = p_reason
     WHERE id = p.id
    RETURNING * INTO p;
    RETURN tocsin_partner_report_json(p);
END
$$;

-- tocsin_publish: store an alert with the id the broker gave it, resolve
-- its recipients, give it the next stream position, and audit the publish
-- and its disclosure, all in the caller's transaction. p_rec is the
-- checked request (docs/protocol.md) plus "at"; p_recipients, when given
-- (journal replay), are the recipients resolved while the database was
-- away. Publishing the same id twice returns the stored alert and changes
-- nothing (existed).
--
-- pending_import: the inbox item (a CAP import held because its area
-- mapped to no site, 049_cap_geocodes) this publish releases: the alert
-- keeps the import's origin, cap_info and adapter as its source, and the
-- item is marked handled with the alert (TS422 naming pending_import when
-- it is not an open pending import).
--
-- The disclosure (DPA 2018 s.62) is one 'disclose' row per alert, by the
-- sender, with site_id NULL and the recipient sites in its detail:
--   {"classification": ..., "sites": [...]}  (publish, update, cancel)
-- `tocsinctl audit export --subject site:X` finds it through "sites"
-- (tocsin_audit_concerns). It was one row per recipient site; with the
-- deliveries compacted (delivery_batches), those rows became 97 % of the
-- audit rows written in the bench (220,542 of 233,226 at N = 5,000, 500
-- sites) and, with their seals, most of what PostgreSQL still wrote per
-- alert: inserting them took 5.5-11 ms of a publish to 1,034 sites
-- against 1.8 ms for one row. Rows written before stay one per site.
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
            -- the sending organisation, or any controller of the force
            -- for an alert of the force (a shift hands over: issue 17);
            -- the audit row names who did it
            IF ref.sender_org_id <> u.org_id
               AND (u.role <> 'controller' OR ref.relay_of IS NOT NULL) THEN
                RAISE EXCEPTION 'only the organisation that sent an alert, or a controller, may update or cancel it'
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
        IF p_rec ? 'pending_import' THEN
            p_rec := tocsin_cap_pending_take(p_rec);
        END IF;

        UPDATE stream_meta SET head = head + 1 RETURNING head INTO pos;
        INSERT INTO alerts (id, seq, sender_user_id, sender_org_id, headline, body, severity,
                            targets, sent_at, status, msg_type, references_id, category,
                            urgency, certainty, instruction, effective, expires, area,
                            classification, handling, request, target_roles,
                            source_adapter_id, origin, cap_info)
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
                         '{}'),
                (p_rec->>'adapter_id')::integer, p_rec->'origin', p_rec->'cap_info')
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
            -- the whole chain: the original, every update of it, and the
            -- companies' relays of them (tocsin_chain)
            UPDATE alerts SET cancelled_at = v_at
             WHERE cancelled_at IS NULL AND msg_type <> 'cancel'
               AND id IN (SELECT c.id FROM tocsin_chain(ref.id) c);
        END IF;
        IF p_rec ? 'pending_import' THEN
            UPDATE partner_reports SET handled_at = v_at, handled_by = u.id, alert_id = a.id
             WHERE id = (p_rec->>'pending_import')::bigint;
        END IF;
        IF a.origin IS NOT NULL THEN
            PERFORM tocsin_cap_pending_link(a);
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
                                   'pending_import', p_rec->'pending_import',
                                   'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                    FROM alert_recipients r
                                                   WHERE r.alert_id = a.id)));
        -- disclosure (DPA 2018 s.62): one row naming every recipient site
        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, detail)
        VALUES (a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id,
                jsonb_build_object('classification', a.classification,
                                   'sites', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                               FROM alert_recipients r
                                              WHERE r.alert_id = a.id)));
        -- the other brokers read it from its position (sql/functions/nodes.sql)
        PERFORM tocsin_notify('tocsin_alerts', ARRAY[pos::text]);
    END IF;

    RETURN QUERY SELECT f.*, NOT fresh FROM tocsin_alert_fanout(a.id) f;
END
$$;

-- tocsin_relay: a company operator passes a force alert on to some or all
-- of the sites its company guards, with a note. The relay is an alert of
-- its own (relay_of = the original, target roles site consoles only) whose
-- receipts the force also sees.
--
-- A company passes on only what it was sent itself (TS403,
-- tocsin_alert_sent_to): not an alert that reached none of its sites, nor
-- one the force aimed at site consoles only (targets.roles), nor an
-- OFFICIAL-SENSITIVE one while the operator is not cleared. The last two
-- were possible until the access matrix was walked (docs/security.md,
-- "Fixed by the walk").
--
-- Its disclosure is one row, like a publish's: {"relay_of": ID, "sites": [...]}.
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
    IF NOT tocsin_alert_sent_to(p_of, u.role, u.cleared_sensitive, u.site_id, u.org_id) THEN
        RAISE EXCEPTION 'alert % was not sent to your company''s operators', p_of
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
    -- one alert with its original at a site that got both (migration
    -- 043): what such a site already did counts for the relay too (the
    -- trigger tocsin_receipt_linked copies, and audits, the rest)
    PERFORM tocsin_relay_receipts(a.id, o.id);
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    VALUES (a.sent_at, 'relay', u.id, u.username, u.role, u.org_id, a.id, p_remote,
            jsonb_build_object('of', o.id, 'note', p_note,
                               'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                FROM alert_recipients r WHERE r.alert_id = a.id)));
    -- disclosure: one row naming every recipient site
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, detail)
    VALUES (a.sent_at, 'disclose', u.id, u.username, u.role, u.org_id, a.id,
            jsonb_build_object('relay_of', o.id,
                               'sites', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                           FROM alert_recipients r WHERE r.alert_id = a.id)));
    PERFORM tocsin_notify('tocsin_alerts', ARRAY[pos::text]);

    RETURN QUERY
    SELECT a.id, a.seq,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           u.org_id, (SELECT name FROM organisations WHERE id = u.org_id), o.sender_org_id,
           a.classification, tocsin_alert_json(a.id);
END
$$;

-- A new relay p_relay takes, at each of its sites that received its
-- original p_of, the site's ack, read and latest answer of the original
-- (tocsin_copy_receipts, as for the receipts that come later).
CREATE OR REPLACE FUNCTION tocsin_relay_receipts(p_relay bigint, p_of bigint)
RETURNS void
LANGUAGE sql AS $$
    SELECT tocsin_copy_receipts('ack', array_agg(k.alert_id), array_agg(k.site_id),
                                array_agg(k.user_id), array_agg(k.acked_at), NULL, NULL)
      FROM acks k JOIN alert_recipients r ON r.alert_id = p_relay AND r.site_id = k.site_id
     WHERE k.alert_id = p_of;
    SELECT tocsin_copy_receipts('read', array_agg(x.alert_id), array_agg(x.site_id),
                                array_agg(x.user_id), array_agg(x.read_at), NULL, NULL)
      FROM reads x JOIN alert_recipients r ON r.alert_id = p_relay AND r.site_id = x.site_id
     WHERE x.alert_id = p_of;
    SELECT tocsin_copy_receipts('answer', array_agg(n.alert_id), array_agg(n.site_id),
                                array_agg(n.user_id), array_agg(n.answered_at),
                                array_agg(n.choice), array_agg(n.number))
      FROM (SELECT DISTINCT ON (n.site_id) n.*
              FROM answers n JOIN alert_recipients r ON r.alert_id = p_relay AND r.site_id = n.site_id
             WHERE n.alert_id = p_of
             ORDER BY n.site_id, n.id DESC) n;
$$;

-- tocsin_answer: a site's answer to a request; every answer is kept.
CREATE OR REPLACE FUNCTION tocsin_answer(p_user_id integer, p_alert_id bigint, p_choice text,
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
    -- the answer's alert first, then each alert of its family that took a
    -- copy (a relay and its original: tocsin_receipt_linked), whose
    -- desks hear the new summary too
    RETURN QUERY
    SELECT t.* FROM (
        SELECT x.id, to_char(w AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               x.sender_org_id, (SELECT o.sender_org_id FROM alerts o WHERE o.id = x.relay_of),
               tocsin_answers_summary(x.id)
          FROM alerts x
         WHERE x.id = p_alert_id
            OR (x.request = a.request
                AND (x.id = COALESCE(a.relay_of, a.id) OR x.relay_of = COALESCE(a.relay_of, a.id))
                AND EXISTS (SELECT 1 FROM alert_recipients r
                             WHERE r.alert_id = x.id AND r.site_id = u.site_id))) t
     ORDER BY t.id <> p_alert_id, t.id;
END
$$;

-- The live tally of a request: latest answer per site.
CREATE OR REPLACE FUNCTION tocsin_answers_summary(p_alert_id bigint)
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

-- tocsin_resume: the alerts still in force (not expired, not cancelled) a
-- console (its site) or a company operator (its company's sites) should
-- have after position p_after, in order, with the full alert object; only
-- those sent to its role and, if OFFICIAL-SENSITIVE, only when p_cleared.
--
-- A console's resume probes one primary key row per candidate alert (issue
-- 6). Testing "this site is a recipient" and "a site of this company is a
-- recipient" in one EXISTS with a join to sites made the planner, in a
-- batch (tocsin_resume_batch), read every recipient row of the console's
-- site (413 after the bench's fan-out) for each session, and again for the
-- next one: 500 x 413 index entries per batch, most with a heap visit while
-- the rows were new. Each role has its own test, and the console's is a
-- scalar probe of alert_recipients' primary key (alert_id, site_id), which
-- returns at most one row. It is a scalar subquery rather than EXISTS on
-- purpose: EXISTS under an OR stays a subplan that the planner may turn
-- into a hash of all the site's recipients, built again for every session.
-- On the bench's database after a storm, 500 console resumes took 71 ms
-- with the one EXISTS and 5.6 ms with the probe (jit off in both: JIT is
-- off for tocsin_broker, sql/schema/01_roles.sql).
CREATE OR REPLACE FUNCTION tocsin_resume(p_role text, p_site_id integer, p_org_id integer,
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
       AND ((p_role = 'site_console'
             AND (SELECT true FROM alert_recipients r
                   WHERE r.alert_id = a.id AND r.site_id = p_site_id))
         OR (p_role = 'company_operator'
             AND EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                          WHERE r.alert_id = a.id AND s.guard_org_id = p_org_id)))
     ORDER BY a.seq
     LIMIT p_limit;
$$;

-- tocsin_resume_batch: the resume backlog of many sessions in one query.
-- Under a reconnect storm thousands of consoles send hello and resume
-- within a second; the broker collects those arriving within a couple of
-- milliseconds (broker/batch_queue.c) and asks once for all of them: one
-- statement, one plan and one result instead of one each. It only calls
-- tocsin_resume once per element, so the rule of which alerts a console or
-- company may have stays in one place.
--
-- tocsin_resume for each requested session (role,
-- site, org, position, clearance; idx from 1 in the arrays' order), with
-- the stream's head on every row. A session with nothing to resume gets
-- one row whose id, seq and alert are NULL. Rows come by idx, then seq.
-- An alert many sessions get is built once: alert is set on its first
-- row only (lowest idx) and NULL on the others, which repeat id and seq.
CREATE OR REPLACE FUNCTION tocsin_resume_batch(p_roles text[], p_sites integer[],
                                               p_orgs integer[], p_after bigint[],
                                               p_cleared boolean[], p_limit integer)
RETURNS TABLE (idx integer, head bigint, id bigint, seq bigint, alert json)
LANGUAGE sql STABLE AS $$
    WITH req AS (
        SELECT x.role, x.site_id, x.org_id, x.after, x.cleared, x.idx::integer AS idx
          FROM unnest(p_roles, p_sites, p_orgs, p_after, p_cleared)
               WITH ORDINALITY AS x(role, site_id, org_id, after, cleared, idx)),
    -- One branch per role with the role as a constant: tocsin_resume is
    -- inlined, its recipient test then folds to the one that applies (a
    -- console's is an index lookup of (site, alert)), instead of testing
    -- both for every recipient of every alert.
    got AS MATERIALIZED (
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume('site_console', q.site_id, q.org_id, q.after,
                                          p_limit, q.cleared) r ON true
         WHERE q.role = 'site_console'
        UNION ALL
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume('company_operator', q.site_id, q.org_id, q.after,
                                          p_limit, q.cleared) r ON true
         WHERE q.role = 'company_operator'
        UNION ALL
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume(q.role, q.site_id, q.org_id, q.after, p_limit,
                                          q.cleared) r ON true
         WHERE q.role IS DISTINCT FROM 'site_console'
           AND q.role IS DISTINCT FROM 'company_operator'),
    firsts AS (
        SELECT g.id, min(g.idx) AS idx FROM got g WHERE g.id IS NOT NULL GROUP BY g.id)
    SELECT g.idx, m.head, g.id, g.seq,
           CASE WHEN f.id IS NOT NULL THEN tocsin_alert_json(g.id) END
      FROM got g
     CROSS JOIN stream_meta m
      LEFT JOIN firsts f ON f.id = g.id AND f.idx = g.idx
     ORDER BY g.idx, g.seq;
$$;

-- Alerts in force (issue 17; docs/protocol.md, "Alerts in force"). A desk
-- that signs in, on a new browser or after a day off, gets the alerts
-- that are in force for it, with what has been done about them, before
-- any live alert: the broker asks tocsin_in_force_batch for a batch of
-- sign-ins at once (broker/handle/resume.c), as it asks
-- tocsin_resume_batch for their backlogs.

-- tocsin_in_force: every alert in force now, force-wide: not a
-- cancellation, not cancelled (a cancel marks its whole chain and the
-- relays of it: tocsin_chain), not past its expiry, and not replaced by an
-- update. The one rule of "in force"; alerts_in_force_idx (migration 042)
-- holds the first three, so the set is read without the alerts that
-- ended.
CREATE OR REPLACE FUNCTION tocsin_in_force()
RETURNS TABLE (id bigint, seq bigint, target_roles text[], classification text)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.seq, a.target_roles, a.classification
      FROM alerts a
     WHERE a.cancelled_at IS NULL AND a.msg_type <> 'cancel'
       AND (a.expires IS NULL OR a.expires > now())
       AND NOT EXISTS (SELECT 1 FROM alerts u
                        WHERE u.references_id = a.id AND u.msg_type = 'update');
$$;

-- What each recipient site did with each alert (parallel arrays of alert
-- and site ids): its first delivery, read and acknowledgement (and which
-- console acknowledged), its escalation and its latest answer, as in
-- tocsin_receipts' rows; NULL for what it has not done.
--
-- Set-wise, for the pairs of a whole batch of sign-ins at once, each pair
-- once. As a function called per row, it cost the bench's storm (2,000
-- consoles, up to 200 alerts in force each) 24 s of PostgreSQL CPU: a
-- scalar SQL function with a FROM is not inlined, and each call starts an
-- executor of its own.
CREATE OR REPLACE FUNCTION tocsin_site_receipts(p_alerts bigint[], p_sites integer[])
RETURNS TABLE (alert_id bigint, site_id integer, site_name text, receipt json)
LANGUAGE sql STABLE AS $$
    SELECT p.alert_id, s.id, s.name, json_build_object(
        'site_id', s.id, 'site_name', s.name,
        'delivered_at', to_char(d.first_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'read_at', to_char(x.read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'acked_at', to_char(k.acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'acked_by', ku.username,
        'escalated_at', to_char(e.escalated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'answer', w.answer,
        'answered_at', to_char(w.answered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM (SELECT DISTINCT a, st FROM unnest(p_alerts, p_sites) AS u(a, st)) p (alert_id, site_id)
      JOIN sites s ON s.id = p.site_id
      LEFT JOIN delivered_sites d ON d.alert_id = p.alert_id AND d.site_id = s.id
      LEFT JOIN reads x ON x.alert_id = p.alert_id AND x.site_id = s.id
      LEFT JOIN acks k ON k.alert_id = p.alert_id AND k.site_id = s.id
      LEFT JOIN users ku ON ku.id = k.user_id
      LEFT JOIN escalations e ON e.alert_id = p.alert_id AND e.site_id = s.id
      LEFT JOIN LATERAL (
          SELECT COALESCE(n.choice, n.number::text) AS answer, n.answered_at
            FROM answers n
           WHERE n.alert_id = p.alert_id AND n.site_id = s.id
           ORDER BY n.id DESC LIMIT 1) w ON true;
$$;

-- tocsin_in_force_batch: the alerts in force for many sessions in one
-- query (role, site, organisation, clearance; idx from 1 in the arrays'
-- order), at most p_limit each (the newest), by idx then seq. A session
-- with none has no row. As in tocsin_resume_batch, an alert many sessions
-- get is built once: alert is set on its first row (lowest idx) only.
--
-- Who gets an alert is the live rule (broker/deliver/fanout.c), asked of
-- the one rule in SQL, tocsin_alert_sent_to (sql/functions/access.sql),
-- for each alert in force: a site console, when its role was targeted, it
-- is cleared for OFFICIAL-SENSITIVE and its site is a recipient (one probe
-- of alert_recipients' primary key per alert in force, as tocsin_resume
-- probes); a company operator likewise for a recipient site its company
-- guards; a controller or analyst, every alert
-- in force across the force, whoever sent it, its relays too (the shared
-- control room), OFFICIAL-SENSITIVE ones when cleared, as the live frames
-- (fanout_to_force). One branch per role, as in tocsin_resume_batch: each
-- is planned with the one recipient test that applies. state is what the
-- session does with it:
--   console   {"receipt": its site's receipt (tocsin_site_receipts)}
--   operator  {"sites": [its company's recipient sites' receipts]}
--   force     {"tally": {recipients, delivered, read, acknowledged,
--              escalated, answered}}
CREATE OR REPLACE FUNCTION tocsin_in_force_batch(p_roles text[], p_sites integer[],
                                                 p_orgs integer[], p_cleared boolean[],
                                                 p_limit integer)
RETURNS TABLE (idx integer, id bigint, seq bigint, alert json, state json)
LANGUAGE sql STABLE AS $$
    WITH live AS MATERIALIZED (SELECT * FROM tocsin_in_force()),
    req AS (
        SELECT x.role, x.site_id, x.org_id, x.cleared, x.idx::integer AS idx
          FROM unnest(p_roles, p_sites, p_orgs, p_cleared)
               WITH ORDINALITY AS x(role, site_id, org_id, cleared, idx)),
    got AS MATERIALIZED (
        SELECT q.idx, q.role, q.site_id, q.org_id, l.id, l.seq
          FROM req q
         CROSS JOIN LATERAL (
             SELECT l.id, l.seq FROM live l
              WHERE tocsin_alert_sent_to(l.id, 'site_console', q.cleared, q.site_id, q.org_id)
              ORDER BY l.seq DESC LIMIT p_limit) l
         WHERE q.role = 'site_console'
        UNION ALL
        SELECT q.idx, q.role, q.site_id, q.org_id, l.id, l.seq
          FROM req q
         CROSS JOIN LATERAL (
             SELECT l.id, l.seq FROM live l
              WHERE tocsin_alert_sent_to(l.id, 'company_operator', q.cleared, q.site_id,
                                         q.org_id)
              ORDER BY l.seq DESC LIMIT p_limit) l
         WHERE q.role = 'company_operator'
        UNION ALL
        SELECT q.idx, q.role, q.site_id, q.org_id, l.id, l.seq
          FROM req q
         CROSS JOIN LATERAL (
             SELECT l.id, l.seq FROM live l
              WHERE l.classification <> 'OFFICIAL-SENSITIVE' OR q.cleared
              ORDER BY l.seq DESC LIMIT p_limit) l
         WHERE q.role IN ('controller', 'analyst')),
    -- what the sites did: each (alert, site) once for the whole batch, the
    -- consoles' own sites and the operators' companies' recipient sites
    pairs AS MATERIALIZED (
        SELECT g.id AS alert_id, g.site_id, NULL::integer AS org_id
          FROM got g WHERE g.role = 'site_console'
        UNION
        SELECT r.alert_id, r.site_id, s.guard_org_id
          FROM (SELECT DISTINCT g.id, g.org_id FROM got g WHERE g.role = 'company_operator') o
          JOIN alert_recipients r ON r.alert_id = o.id
          JOIN sites s ON s.id = r.site_id AND s.guard_org_id = o.org_id),
    receipts AS MATERIALIZED (
        SELECT x.*, p.org_id
          FROM (SELECT array_agg(alert_id) AS a, array_agg(site_id) AS s FROM pairs) q
         CROSS JOIN LATERAL tocsin_site_receipts(q.a, q.s) x
          JOIN pairs p ON p.alert_id = x.alert_id AND p.site_id = x.site_id),
    tallies AS (
        SELECT t.alert_id, json_build_object(
                   'recipients', t.recipients, 'delivered', t.delivered, 'read', t.read,
                   'acknowledged', t.acknowledged, 'escalated', t.escalated,
                   'answered', (SELECT count(DISTINCT n.site_id) FROM answers n
                                 WHERE n.alert_id = t.alert_id)) AS tally
          FROM alert_tallies t
         WHERE t.alert_id IN (SELECT g.id FROM got g WHERE g.role IN ('controller', 'analyst'))),
    companies AS (
        SELECT r.alert_id, r.org_id,
               json_build_object('sites', json_agg(r.receipt ORDER BY r.site_name, r.site_id)) AS state
          FROM receipts r WHERE r.org_id IS NOT NULL
         GROUP BY r.alert_id, r.org_id),
    -- Each session's state by key, from one jsonb object per kind (a
    -- binary search), and the first row of each alert by a window: no join
    -- of got with receipts, companies, tallies or firsts. The planner
    -- expects a handful of rows from the arrays' unnest and a few receipts,
    -- so it made those joins nested loops, which compared every row of the
    -- batch with every receipt: in the bench's reconnect storm (three
    -- alerts in force, 500 consoles of 500 sites a batch) 1,500 rows x
    -- 1,500 receipts, 2.25 million comparisons, 0.45 of the batch's
    -- 0.46 s, and the storm's 20 batches wait for each other on the
    -- broker's main connection. By key the same batch takes 0.07-0.09 s
    -- (EXPLAIN ANALYZE on the bench's database after the storm, JIT off
    -- as for tocsin_broker), and the storm's 20 batches, asked one after
    -- the other, 2.9 s against 12.5 s (the shared machine at a load of 9;
    -- bench/README.md, "The reconnect storm"). A receipt's members come in
    -- jsonb's order.
    states AS (
        SELECT (SELECT jsonb_object_agg(r.alert_id || ':' || r.site_id, r.receipt::jsonb)
                  FROM receipts r WHERE r.org_id IS NULL) AS receipt,
               (SELECT jsonb_object_agg(c.alert_id || ':' || c.org_id, c.state::jsonb)
                  FROM companies c) AS company,
               (SELECT jsonb_object_agg(t.alert_id::text, t.tally::jsonb)
                  FROM tallies t) AS tally)
    SELECT g.idx, g.id, g.seq,
           CASE WHEN g.idx = min(g.idx) OVER (PARTITION BY g.id)
                THEN tocsin_alert_json(g.id) END,
           CASE g.role
             WHEN 'site_console' THEN
                 json_build_object('receipt', m.receipt -> (g.id || ':' || g.site_id))
             WHEN 'company_operator' THEN (m.company -> (g.id || ':' || g.org_id))::json
             ELSE json_build_object('tally', m.tally -> g.id::text)
           END
      FROM got g
     CROSS JOIN states m
     ORDER BY g.idx, g.seq;
$$;

-- Who had an alert that leaves force, for the broker to tell them
-- (in_force_ended, docs/protocol.md): its recipient sites, the companies
-- guarding them, the roles it was sent to and its classification, as a
-- publish returns them (fanout.c delivers by them).
CREATE OR REPLACE FUNCTION tocsin_ended_audience(p_alert_id bigint)
RETURNS TABLE (sites integer[], orgs integer[], target_roles text[], classification text)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           (SELECT array_agg(DISTINCT s.guard_org_id ORDER BY s.guard_org_id)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = a.id AND s.guard_org_id IS NOT NULL),
           a.target_roles, a.classification
      FROM alerts a WHERE a.id = p_alert_id;
$$;

-- tocsin_ended_by: the alerts that the update or cancel p_alert_id took
-- out of force ('superseded': the alert it updates; 'cancelled': the chain
-- it cancels and the relays of it), with their audience.
CREATE OR REPLACE FUNCTION tocsin_ended_by(p_alert_id bigint)
RETURNS TABLE (alert_id bigint, reason text, sites integer[], orgs integer[],
               target_roles text[], classification text)
LANGUAGE sql STABLE AS $$
    SELECT e.id, CASE b.msg_type WHEN 'cancel' THEN 'cancelled' ELSE 'superseded' END,
           w.sites, w.orgs, w.target_roles, w.classification
      FROM alerts b
      JOIN alerts e ON (b.msg_type = 'cancel' AND e.msg_type <> 'cancel'
                        AND e.id IN (SELECT c.id FROM tocsin_chain(b.references_id) c))
                    OR (b.msg_type = 'update' AND e.id = b.references_id)
     CROSS JOIN LATERAL tocsin_ended_audience(e.id) w
     WHERE b.id = p_alert_id
     ORDER BY e.seq;
$$;

-- tocsin_expired_between: the alerts whose expiry fell in (p_after,
-- p_until] and that were in force until then (not cancelled, not
-- replaced), with their audience: the broker asks every second
-- (broker/handle/in_force.c) and tells the desks that had them. A range
-- of alerts_in_force_idx.
CREATE OR REPLACE FUNCTION tocsin_expired_between(p_after timestamptz, p_until timestamptz)
RETURNS TABLE (alert_id bigint, expires text, sites integer[], orgs integer[],
               target_roles text[], classification text)
LANGUAGE sql STABLE AS $$
    SELECT a.id, to_char(a.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           w.sites, w.orgs, w.target_roles, w.classification
      FROM alerts a
     CROSS JOIN LATERAL tocsin_ended_audience(a.id) w
     WHERE a.cancelled_at IS NULL AND a.msg_type <> 'cancel'
       AND a.expires > p_after AND a.expires <= p_until
       AND NOT EXISTS (SELECT 1 FROM alerts u
                        WHERE u.references_id = a.id AND u.msg_type = 'update')
     ORDER BY a.expires, a.seq;
$$;

-- tocsin_linked_tallies: the new tallies of the alerts that took a copy of
-- the receipts (alert, site) given (a relay and its original at a site
-- that got both: tocsin_receipt_linked), for their desks. Columns as
-- tocsin_ack's tally: sender_org_id, then recipients, delivered,
-- acknowledged, read, escalated, then watcher_org_id.
CREATE OR REPLACE FUNCTION tocsin_linked_tallies(p_alerts bigint[], p_sites integer[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint, read bigint, escalated bigint, watcher_org_id integer)
LANGUAGE sql STABLE AS $$
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged, t.read,
           t.escalated, t.watcher_org_id
      FROM alert_tallies t
     WHERE t.alert_id IN (
           SELECT x.id
             FROM unnest(p_alerts, p_sites) AS p(alert_id, site_id)
             JOIN alerts a ON a.id = p.alert_id
             JOIN alerts x ON x.id <> a.id
                          AND (x.id = COALESCE(a.relay_of, a.id)
                               OR x.relay_of = COALESCE(a.relay_of, a.id))
             JOIN alert_recipients r ON r.alert_id = x.id AND r.site_id = p.site_id)
     ORDER BY t.alert_id;
$$;

-- The functions of the chain, the relay's receipts and the alerts in force.
GRANT EXECUTE ON FUNCTION
    tocsin_chain(bigint),
    tocsin_relay_receipts(bigint, bigint),
    tocsin_in_force(),
    tocsin_site_receipts(bigint[], integer[]),
    tocsin_in_force_batch(text[], integer[], integer[], boolean[], integer),
    tocsin_ended_audience(bigint),
    tocsin_ended_by(bigint),
    tocsin_expired_between(timestamptz, timestamptz),
    tocsin_linked_tallies(bigint[], integer[])
    TO tocsin_broker;

-- tocsin_escalate: claims every (alert, site) of a severe or extreme alert
-- that has gone unacknowledged for longer than p_after, once, audits it,
-- and returns what the broker must re-send and raise, with the full alert
-- (tocsin_escalations_of, which the other brokers ask when they hear the
-- pairs on tocsin_escalations: sql/functions/nodes.sql). Expired and
-- cancelled alerts are not escalated.
CREATE OR REPLACE FUNCTION tocsin_escalate(p_after interval, p_limit integer)
RETURNS TABLE (alert_id bigint, site_id integer, site_name text, guard_org_id integer,
               escalated_at text, seq bigint, sender_org_id integer, watcher_org_id integer,
               alert json)
LANGUAGE plpgsql AS $$
DECLARE
    v_alerts bigint[];
    v_sites  integer[];
BEGIN
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
    SELECT array_agg(c.alert_id), array_agg(c.site_id) INTO v_alerts, v_sites FROM claimed c;
    IF v_alerts IS NULL THEN
        RETURN;
    END IF;
    PERFORM tocsin_notify('tocsin_escalations',
                          ARRAY(SELECT x.a || ':' || x.s FROM unnest(v_alerts, v_sites) AS x(a, s)));
    RETURN QUERY
    SELECT * FROM tocsin_escalations_of(ARRAY(
        SELECT v.y FROM unnest(v_alerts, v_sites) WITH ORDINALITY AS x(a, s, i),
                        unnest(ARRAY[x.a, x.s::bigint]) WITH ORDINALITY AS v(y, j)
         ORDER BY x.i, v.j));
END
$$;

-- tocsin_journal_apply: writes one record of a broker's journal (kept
-- while the database was away), once: a jid already in journal_applied
-- returns 'duplicate'. An adapter's publish (its record names adapter_id
-- and adapter_seq: broker/handle/publish.c) records its (adapter, seq) in
-- adapter_submissions in the same transaction, so that a resend after the
-- write-back is a duplicate, whichever broker process journaled it (issue
-- 16: the pairs were kept in the broker's memory and written afterwards,
-- and lost with it if it restarted during the outage). A record that the database refuses (say, an
-- acknowledgement for a site that was not a recipient) is kept as refused
-- with its reason, so replay never stops on it and the refusal is audited.
-- A transient error is no refusal: a lock wait cancelled by lock_timeout
-- (55P03), a deadlock (40P01) or a serialization failure (class 40) is
-- raised, the broker's connection is lost (db.c) and the record written
-- again later; kept as refused, it would be lost for a lock someone held
-- for a second. (statement_timeout's query_canceled is never caught by
-- OTHERS.) A soak under load had 65 records refused after write-backs, 8
-- of them acknowledgements answered "acked" and so lost; a run of 64
-- records meeting the records connection's delivery batches in a deadlock
-- is the likely cause (e2e 88 injects one).
-- Delivery records replayed here are compacted into batches like any
-- others (tocsin_record_deliveries). A publish record carries the
-- signature its frames went out with and the text it covers ("signature":
-- key_id, sig, signed; broker/handle/publish.c), kept in alert_signatures
-- in the publish's transaction, so that `tocsinctl alert verify ID` proves
-- an alert of an outage as it does any other (issue 23: such an alert had
-- none). A record of a broker from before has none and is written as before.
CREATE OR REPLACE FUNCTION tocsin_journal_apply(p_jid text, p_kind text, p_rec jsonb)
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
            IF jsonb_typeof(r->'signature') = 'object' THEN
                PERFORM tocsin_alert_signature_keep((r->>'alert_id')::bigint,
                                                    r->'signature'->>'key_id',
                                                    r->'signature'->>'sig',
                                                    r->'signature'->>'signed');
            END IF;
            IF r ? 'adapter_id' THEN
                PERFORM tocsin_bus_journaled((r->>'adapter_id')::integer,
                                             (r->>'adapter_seq')::bigint,
                                             (r->>'alert_id')::bigint);
            END IF;
        WHEN 'ack' THEN
            PERFORM tocsin_ack((r->>'user_id')::integer, (r->>'alert_id')::bigint,
                               r->>'remote', (r->>'at')::timestamptz);
            PERFORM tocsin_notify('tocsin_receipts', ARRAY[r->>'alert_id']);
        WHEN 'read' THEN
            PERFORM tocsin_read((r->>'user_id')::integer, (r->>'alert_id')::bigint,
                                r->>'remote', (r->>'at')::timestamptz);
            PERFORM tocsin_notify('tocsin_receipts', ARRAY[r->>'alert_id']);
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
    EXCEPTION
    WHEN lock_not_available OR transaction_rollback THEN
        RAISE; -- lock_timeout, deadlock, serialization: transient; db.c redoes it
    WHEN OTHERS THEN
        outcome := 'refused: ' || SQLERRM;
        INSERT INTO audit (action, actor_role, alert_id, detail)
        VALUES ('journal_refused', 'system', (r->>'alert_id')::bigint,
                jsonb_build_object('jid', p_jid, 'kind', p_kind, 'reason', SQLERRM));
    END;
    INSERT INTO journal_applied (jid, kind, outcome) VALUES (p_jid, p_kind, outcome);
    RETURN outcome;
END
$$;

-- tocsin_journal_apply_run: a run of journal records, written in their
-- order in one transaction, each as tocsin_journal_apply writes it (its
-- refusal caught and audited inside, so one bad record does not undo the
-- run). One row per record, in order: its outcome. A write-back of one
-- record per transaction applied 189 records/s under load, fewer than a
-- steady stream adds to the journal while it drains (the soak, issue 16);
-- a run shares one commit. The three arrays are the records' ids, kinds
-- and texts, of one length.
CREATE OR REPLACE FUNCTION tocsin_journal_apply_run(p_jids jsonb, p_kinds jsonb, p_recs jsonb)
RETURNS TABLE (outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := jsonb_array_length(p_jids);
BEGIN
    IF jsonb_array_length(p_kinds) <> n OR jsonb_array_length(p_recs) <> n THEN
        RAISE EXCEPTION 'a journal run of % ids, % kinds and % records',
            n, jsonb_array_length(p_kinds), jsonb_array_length(p_recs);
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        outcome := tocsin_journal_apply(p_jids->>i, p_kinds->>i, p_recs->i);
        RETURN NEXT;
    END LOOP;
END
$$;

-- tocsin_journal_applied_prune: deletes up to p_limit record ids written
-- more than 30 days ago, oldest first, and says how many (issue 16: the
-- table only grew). An id must stay as long as a journal may still hold
-- the record it names: while the database is away and until the journal is
-- written back, and, in the file of a broker stopped with records, until
-- it starts again. A journal is sized for hours of an outage
-- (docs/operations.md); 30 days is far beyond any outage or stopped broker
-- the journal is meant to bridge, and bounds the table to a month of
-- records. Past it, a replay could write a delivery batch a second time
-- (publishes, acknowledgements and reads are idempotent by themselves: the
-- alert's id, the site's first receipt). The retention is fixed here, not
-- a parameter, and the function is the broker's only way to delete
-- (SECURITY DEFINER; its role has no DELETE), so the broker can prune but
-- not empty the table. Measured on a copy of the test database with
-- 200,000 ids past the retention and 200,000 within it: 20,000 deleted in
-- 78-123 ms through journal_applied_at_idx (034), whose entry costs an
-- insert less than the noise of measuring it (0.19-0.42 ms per insert
-- with or without it).
CREATE OR REPLACE FUNCTION tocsin_journal_applied_prune(p_limit integer)
RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM journal_applied
         WHERE jid IN (SELECT j.jid FROM journal_applied j
                        WHERE j.applied_at < clock_timestamp() - interval '30 days'
                        ORDER BY j.applied_at
                        LIMIT p_limit)
        RETURNING 1)
    SELECT count(*)::integer FROM gone;
$$;
REVOKE EXECUTE ON FUNCTION tocsin_journal_applied_prune(integer) FROM PUBLIC;

-- tocsin_stream_new_epoch: a new name for the stream, after a restore
-- (docs/operations.md, deploy/restore.sh). A database restored from a dump
-- or to a point in time has a head behind what consoles have seen: with
-- the old epoch a console would resume after a position the restored
-- stream gives out again to other alerts, and miss them. A new epoch makes
-- every console reload (docs/protocol.md) the next time the broker
-- connects (stream.c reads it then). The change is audited, with both
-- names. tocsinctl's role and superusers only: not the broker's (SECURITY
-- DEFINER: no role is granted UPDATE of the epoch itself).
CREATE OR REPLACE FUNCTION tocsin_stream_new_epoch(p_reason text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_old text;
    v_new text := md5(random()::text || clock_timestamp()::text);
BEGIN
    SELECT m.epoch INTO v_old FROM stream_meta m FOR UPDATE;
    UPDATE stream_meta SET epoch = v_new;
    INSERT INTO audit (action, actor_username, detail)
    VALUES ('stream_new_epoch', current_user,
            jsonb_build_object('old_epoch', v_old, 'new_epoch', v_new, 'reason', p_reason));
    RETURN v_new;
END;
$$;
REVOKE EXECUTE ON FUNCTION tocsin_stream_new_epoch(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_stream_new_epoch(text) TO tocsin_admin;

GRANT EXECUTE ON FUNCTION
    tocsin_json_ints(jsonb),
    tocsin_alert_json(bigint),
    tocsin_resolve_targets(jsonb),
    tocsin_cap_pending_take(jsonb),
    tocsin_cap_pending_link(alerts),
    tocsin_cap_pending_reject(integer, bigint, text, text),
    tocsin_preview(integer, jsonb),
    tocsin_publish(bigint, integer, jsonb, text, integer[]),
    tocsin_relay(bigint, integer, bigint, integer[], text, text),
    tocsin_answer(integer, bigint, text, bigint, text),
    tocsin_answers_summary(bigint),
    tocsin_resume(text, integer, integer, bigint, integer, boolean),
    tocsin_resume_batch(text[], integer[], integer[], bigint[], boolean[], integer),
    tocsin_escalate(interval, integer),
    tocsin_journal_apply(text, text, jsonb),
    tocsin_journal_apply_run(jsonb, jsonb, jsonb),
    tocsin_journal_applied_prune(integer)
    TO tocsin_broker;
