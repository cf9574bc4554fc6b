-- status.sql: building status reports and the status board, area totals,
-- report-now requests, partner reports to the force, and a site's history
-- (the tables are in sql/schema/07_status.sql).
--
-- Viewing the board, area totals, the inbox and a site's history is
-- audited as a consultation (DPA 2018 s.62), as is every report received.
-- Identity (user, site) comes from the broker's session, never from the
-- message; the functions check it again here.

-- A time as the protocol writes it: RFC 3339, UTC, milliseconds.
--
-- STABLE, as to_char is: declared IMMUTABLE around it, PostgreSQL could
-- not inline it and ran it as a separate SQL function twice per report;
-- declared STABLE it is inlined: 40.3 ms instead of 44.6 ms for 1,000
-- reports of tocsin_status_batch (median of 7, in a rolled-back
-- transaction, on the database of a `make bench` run). Nothing indexes on
-- it.
CREATE OR REPLACE FUNCTION tocsin_status_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$$;

-- One board entry as the protocol writes it (board and status_update).
-- stale is [] for a site that never reported, as for a report with every
-- count confirmed.
CREATE OR REPLACE FUNCTION tocsin_board_site(b status_board) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'site_id', b.site_id, 'site_name', b.site_name, 'lat', b.lat, 'lon', b.lon,
        'sector', b.sector, 'guard_org_id', b.guard_org_id, 'people', b.people,
        'officers', b.officers, 'trauma_packs', b.trauma_packs,
        'first_aid_kits', b.first_aid_kits, 'defibrillators', b.defibrillators,
        'cctv', b.cctv, 'state', b.state, 'note', b.note,
        'reported_at', tocsin_status_time(b.reported_at),
        'first_aiders', b.first_aiders, 'trauma_packs_where', b.trauma_packs_where,
        'defibrillators_where', b.defibrillators_where,
        'stale', to_json(COALESCE(b.stale, '{}')));
$$;

-- The sites asked by a request, answered and pending, as
-- {"reported":[ids],"pending":[ids]}.
CREATE OR REPLACE FUNCTION tocsin_report_now_progress(p_request_id bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'reported', COALESCE(json_agg(q.site_id ORDER BY q.site_id)
                             FILTER (WHERE q.report_id IS NOT NULL), '[]'::json),
        'pending', COALESCE(json_agg(q.site_id ORDER BY q.site_id)
                            FILTER (WHERE q.report_id IS NULL), '[]'::json))
      FROM report_request_sites q WHERE q.request_id = p_request_id;
$$;

-- The active, enabled user, or TS403 when it does not hold one of roles.
CREATE OR REPLACE FUNCTION tocsin_status_user(p_user_id integer, p_roles text[], p_what text)
RETURNS users
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR NOT (u.role = ANY (p_roles)) THEN
        RAISE EXCEPTION 'this user may not %', p_what USING ERRCODE = 'TS403';
    END IF;
    RETURN u;
END
$$;

-- The audit detail of a status report: every field of it, and whether it
-- answered a report-now request.
CREATE OR REPLACE FUNCTION tocsin_status_audit_detail(r status_reports, p_answered boolean)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('report_id', r.id, 'people', r.people, 'officers', r.officers,
                              'trauma_packs', r.trauma_packs, 'first_aid_kits', r.first_aid_kits,
                              'defibrillators', r.defibrillators, 'cctv', r.cctv,
                              'state', r.state, 'note', r.note,
                              'first_aiders', r.first_aiders,
                              'trauma_packs_where', r.trauma_packs_where,
                              'defibrillators_where', r.defibrillators_where,
                              'stale', to_jsonb(r.stale),
                              'in_reply_to', r.in_reply_to, 'answered', p_answered);
$$;

-- tocsin_status: a site console reports its building's status. Stores the
-- report, makes it the site's latest, records it as the answer to the
-- report-now request it names when that request asked this site and the
-- site has not answered it yet, and audits it. Returns the new board entry
-- and, when it answered a request, the request's progress for the
-- controller who asked. p_stale names the counts carried over from the
-- last report without being confirmed (NULL: none).
CREATE OR REPLACE FUNCTION tocsin_status(p_user_id integer, p_site_id integer, p_people integer,
                                         p_officers integer, p_trauma_packs integer,
                                         p_first_aid_kits integer, p_defibrillators integer,
                                         p_cctv text, p_state text, p_note text,
                                         p_first_aiders integer, p_trauma_packs_where text,
                                         p_defibrillators_where text, p_stale text[],
                                         p_in_reply_to bigint, p_remote text)
RETURNS TABLE (report_id bigint, site_id integer, guard_org_id integer, reported_at text,
               site json, answered boolean, request_id bigint, requested_by integer,
               progress json)
LANGUAGE plpgsql AS $$
DECLARE
    u         users%ROWTYPE := tocsin_status_user(p_user_id, '{site_console}',
                                                  'report building status');
    r         status_reports%ROWTYPE;
    b         status_board%ROWTYPE;
    fresh     boolean := false;
    asker     integer;
BEGIN
    IF u.site_id IS DISTINCT FROM p_site_id THEN
        RAISE EXCEPTION 'a console reports for its own site only' USING ERRCODE = 'TS403';
    END IF;
    INSERT INTO status_reports (site_id, user_id, people, officers, trauma_packs,
                                first_aid_kits, defibrillators, cctv, state, note, in_reply_to,
                                first_aiders, trauma_packs_where, defibrillators_where, stale)
    VALUES (u.site_id, u.id, p_people, p_officers, p_trauma_packs, p_first_aid_kits,
            p_defibrillators, p_cctv, p_state, p_note, p_in_reply_to, p_first_aiders,
            p_trauma_packs_where, p_defibrillators_where, COALESCE(p_stale, '{}'))
    RETURNING * INTO r;

    -- Concurrent reports of one site: the highest id wins.
    INSERT INTO status_latest AS l (site_id, report_id) VALUES (r.site_id, r.id)
    ON CONFLICT ON CONSTRAINT status_latest_pkey
    DO UPDATE SET report_id = EXCLUDED.report_id WHERE l.report_id < EXCLUDED.report_id;

    IF p_in_reply_to IS NOT NULL THEN
        UPDATE report_request_sites q SET report_id = r.id, answered_at = r.reported_at
         WHERE q.request_id = p_in_reply_to AND q.site_id = r.site_id AND q.report_id IS NULL;
        fresh := FOUND;
        IF fresh THEN
            SELECT q.user_id INTO asker FROM report_requests q WHERE q.id = p_in_reply_to;
        END IF;
    END IF;

    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES (r.reported_at, 'status_report', u.id, u.username, u.role, u.org_id, r.site_id,
            p_remote, tocsin_status_audit_detail(r, fresh));

    SELECT * INTO b FROM status_board sb WHERE sb.site_id = r.site_id;
    RETURN QUERY
    SELECT r.id, r.site_id, b.guard_org_id, tocsin_status_time(r.reported_at),
           tocsin_board_site(b), fresh,
           CASE WHEN fresh THEN p_in_reply_to END, asker,
           CASE WHEN fresh THEN tocsin_report_now_progress(p_in_reply_to) END;
END
$$;

-- tocsin_status_batch: building status reports written in batches. One
-- transaction (one commit, one fsync) and one result for every status
-- report that arrived within a few milliseconds, instead of one each: the
-- broker answers each console after the batch commits. Each report goes
-- through tocsin_status() (stored, made the site's latest, audited,
-- recorded as a report-now answer) in its own savepoint, so a refused one
-- is answered with its error and never rolls back its neighbours.
--
-- The common case (no report answers a report-now request, every console
-- may report for its site) takes a set-based path: the same rows as
-- tocsin_status() writes, a few statements for the whole batch instead of
-- a dozen per report. Anything else, or any error there, goes through the
-- per-report loop.
--
-- The set-based path answers from the rows it inserted, without reading
-- status_reports again (issue 6): the storing statement builds the
-- answers from its own RETURNING rows joined to sites and sectors, into
-- arrays, and the function returns them. Reading status_reports back by
-- the new ids, with auto_explain on a batch of 667 reports from the bench
-- (10,000 consoles report at once; `make bench` misses 20,000 stored a
-- second by a few per cent), took 15 ms of the function's 55: the planner
-- hashed the whole of status_reports (12,668 rows after one burst, growing
-- with every report ever made) to find the 667 new ones. The same 667
-- reports in a loop of 12 rolled-back calls: median 28.2 ms reading back,
-- 25.2 ms answering from the inserted rows.
--
-- p_reports is a JSON array of objects with tocsin_status()'s arguments:
-- user_id, site_id, people, officers, trauma_packs, first_aid_kits,
-- defibrillators, cctv, state, note (or null), first_aiders,
-- trauma_packs_where, defibrillators_where (each null or absent), stale
-- (an array of count names, or absent), in_reply_to (or null), remote.
-- One row per element, in order (idx from 1).
CREATE OR REPLACE FUNCTION tocsin_status_batch(p_reports jsonb)
RETURNS TABLE (idx integer, err_state text, err_message text, err_field text,
               report_id bigint, site_id integer, guard_org_id integer, reported_at text,
               site json, answered boolean, request_id bigint, requested_by integer,
               progress json)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    e     jsonb;
    i     bigint;
    r     record;
    v_ids    bigint[];
    v_idx    bigint[];
    v_sites  integer[];
    v_guards integer[];
    v_times  text[];
    v_boards json[];
BEGIN
    IF NOT jsonb_path_exists(p_reports, '$[*] ? (@.in_reply_to != null)')
       AND NOT EXISTS (
           SELECT 1 FROM jsonb_to_recordset(p_reports) AS x(user_id integer, site_id integer)
             LEFT JOIN users u ON u.id = x.user_id AND NOT u.disabled
                              AND u.role = 'site_console' AND u.site_id = x.site_id
            WHERE u.id IS NULL) THEN
        BEGIN
            WITH src AS (
                SELECT o.idx, x.*
                  FROM jsonb_array_elements(p_reports) WITH ORDINALITY AS o(e, idx),
                       jsonb_to_record(o.e) AS x(user_id integer, site_id integer,
                                                 people integer, officers integer,
                                                 trauma_packs integer, first_aid_kits integer,
                                                 defibrillators integer, cctv text, state text,
                                                 note text, first_aiders integer,
                                                 trauma_packs_where text,
                                                 defibrillators_where text, stale text[],
                                                 remote text)
                 ORDER BY o.idx),
            ids AS (SELECT nextval('status_reports_id_seq') AS id, src.* FROM src),
            ins AS (
                INSERT INTO status_reports (id, site_id, user_id, people, officers,
                                            trauma_packs, first_aid_kits, defibrillators,
                                            cctv, state, note, in_reply_to, first_aiders,
                                            trauma_packs_where, defibrillators_where, stale)
                SELECT d.id, d.site_id, d.user_id, d.people, d.officers, d.trauma_packs,
                       d.first_aid_kits, d.defibrillators, d.cctv, d.state, d.note, NULL,
                       d.first_aiders, d.trauma_packs_where, d.defibrillators_where,
                       COALESCE(d.stale, '{}')
                  FROM ids d ORDER BY d.id
                RETURNING *),
            lat AS (
                INSERT INTO status_latest AS l (site_id, report_id)
                SELECT n.site_id, max(n.id) FROM ins n GROUP BY n.site_id
                ON CONFLICT ON CONSTRAINT status_latest_pkey
                DO UPDATE SET report_id = EXCLUDED.report_id
                        WHERE l.report_id < EXCLUDED.report_id),
            -- The detail as tocsin_status_audit_detail() builds it, written out:
            -- through the function (each inserted row cast to status_reports)
            -- 1,020 reports took 59.2 and 66.3 ms, written out 54.3 and 59.4
            -- (the fastest of 21 rolled-back calls, twice, on the demo data;
            -- 49.8 and 52.0 before first-aiders, where and stale).
            aud AS (
                INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                                   actor_org_id, site_id, remote_addr, detail)
                SELECT n.reported_at, 'status_report', u.id, u.username, u.role, u.org_id,
                       n.site_id, d.remote,
                       jsonb_build_object('report_id', n.id, 'people', n.people,
                                          'officers', n.officers,
                                          'trauma_packs', n.trauma_packs,
                                          'first_aid_kits', n.first_aid_kits,
                                          'defibrillators', n.defibrillators, 'cctv', n.cctv,
                                          'state', n.state, 'note', n.note,
                                          'first_aiders', n.first_aiders,
                                          'trauma_packs_where', n.trauma_packs_where,
                                          'defibrillators_where', n.defibrillators_where,
                                          'stale', to_jsonb(n.stale),
                                          'in_reply_to', n.in_reply_to, 'answered', false)
                  FROM ins n JOIN ids d ON d.id = n.id JOIN users u ON u.id = n.user_id
                 ORDER BY n.id)
            -- each report's answer from the rows just inserted, in order
            SELECT array_agg(n.idx ORDER BY n.idx), array_agg(n.id ORDER BY n.idx),
                   array_agg(n.site_id ORDER BY n.idx), array_agg(s.guard_org_id ORDER BY n.idx),
                   array_agg(tocsin_status_time(n.reported_at) ORDER BY n.idx),
                   array_agg(tocsin_board_site(ROW(s.id, s.name, s.lat, s.lon, x.code,
                                                   s.guard_org_id, n.id, n.people, n.officers,
                                                   n.trauma_packs, n.first_aid_kits,
                                                   n.defibrillators, n.cctv, n.state, n.note,
                                                   n.reported_at, n.first_aiders,
                                                   n.trauma_packs_where,
                                                   n.defibrillators_where,
                                                   n.stale)::status_board)
                             ORDER BY n.idx)
              INTO v_idx, v_ids, v_sites, v_guards, v_times, v_boards
              FROM (SELECT i.*, d.idx FROM ins i JOIN ids d ON d.id = i.id) n
              JOIN sites s ON s.id = n.site_id
              JOIN sectors x ON x.id = s.sector_id;
        EXCEPTION
        WHEN lock_not_available OR transaction_rollback THEN
            RAISE; -- lock_timeout, deadlock, serialization: transient; db.c redoes it
        WHEN OTHERS THEN
            v_ids := NULL; -- the loop below says which report failed, and why
        END;
        IF v_ids IS NOT NULL THEN
            -- the other brokers' boards read them (sql/functions/nodes.sql)
            PERFORM tocsin_notify('tocsin_status', v_ids::text[]);
            RETURN QUERY
            SELECT o.idx::integer, NULL::text, NULL::text, NULL::text, o.id, o.site_id, o.guard,
                   o.at, o.board, false, NULL::bigint, NULL::integer, NULL::json
              FROM unnest(v_idx, v_ids, v_sites, v_guards, v_times, v_boards)
                   AS o(idx, id, site_id, guard, at, board)
             ORDER BY o.idx;
            RETURN;
        END IF;
    END IF;
    FOR e, i IN SELECT x.e, x.i FROM jsonb_array_elements(p_reports) WITH ORDINALITY AS x(e, i)
    LOOP
        BEGIN
            SELECT * INTO STRICT r
              FROM tocsin_status((e->>'user_id')::integer, (e->>'site_id')::integer,
                                 (e->>'people')::integer, (e->>'officers')::integer,
                                 (e->>'trauma_packs')::integer,
                                 (e->>'first_aid_kits')::integer,
                                 (e->>'defibrillators')::integer, e->>'cctv', e->>'state',
                                 e->>'note', (e->>'first_aiders')::integer,
                                 e->>'trauma_packs_where', e->>'defibrillators_where',
                                 ARRAY(SELECT jsonb_array_elements_text(
                                           COALESCE(e->'stale', '[]'::jsonb))),
                                 (e->>'in_reply_to')::bigint, e->>'remote');
            idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
            report_id := r.report_id; site_id := r.site_id; guard_org_id := r.guard_org_id;
            reported_at := r.reported_at; site := r.site; answered := r.answered;
            request_id := r.request_id; requested_by := r.requested_by;
            progress := r.progress;
            RETURN NEXT;
        EXCEPTION
        WHEN lock_not_available OR transaction_rollback THEN
            RAISE; -- lock_timeout, deadlock, serialization: transient; db.c redoes it
        WHEN OTHERS THEN
            idx := i;
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_field = COLUMN_NAME;
            report_id := NULL; site_id := NULL; guard_org_id := NULL; reported_at := NULL;
            site := NULL; answered := NULL; request_id := NULL; requested_by := NULL;
            progress := NULL;
            RETURN NEXT;
        END;
        IF report_id IS NOT NULL THEN
            v_ids := v_ids || report_id;
        END IF;
    END LOOP;
    IF v_ids IS NOT NULL THEN
        PERFORM tocsin_notify('tocsin_status', v_ids::text[]);
    END IF;
END
$$;

-- tocsin_board: the latest status of every site the user may see (the
-- force: all; a company operator: the sites its company guards), audited
-- as a consultation.
CREATE OR REPLACE FUNCTION tocsin_board(p_user_id integer, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_status_user(p_user_id,
                                               '{controller,analyst,company_operator}',
                                               'see the status board');
    own     boolean := u.role = 'company_operator';
    v_rows  json;
    n       integer;
BEGIN
    SELECT COALESCE(json_agg(tocsin_board_site(b) ORDER BY b.site_name), '[]'::json), count(*)
      INTO v_rows, n
      FROM status_board b WHERE NOT own OR b.guard_org_id = u.org_id;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_board', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('scope', CASE WHEN own THEN 'org' ELSE 'all' END, 'sites', n));
    RETURN v_rows;
END
$$;

-- tocsin_area_totals: the sums of the latest reports of the sites inside
-- a circle (sites that never reported count in "sites" only), audited as
-- a consultation.
CREATE OR REPLACE FUNCTION tocsin_area_totals(p_user_id integer, p_lat double precision,
                                              p_lon double precision, p_radius_m double precision,
                                              p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u       users%ROWTYPE := tocsin_status_user(p_user_id, '{controller,analyst}',
                                                'see area totals');
    totals  json;
BEGIN
    WITH inside AS (
        SELECT b.* FROM status_board b
         WHERE tocsin_distance_m(b.lat, b.lon, p_lat, p_lon) <= p_radius_m)
    SELECT json_build_object(
        'sites', count(*),
        'reported', count(i.report_id),
        'people', COALESCE(sum(i.people), 0),
        'officers', COALESCE(sum(i.officers), 0),
        'trauma_packs', COALESCE(sum(i.trauma_packs), 0),
        'first_aid_kits', COALESCE(sum(i.first_aid_kits), 0),
        'defibrillators', COALESCE(sum(i.defibrillators), 0),
        'first_aiders', COALESCE(sum(i.first_aiders), 0),
        'by_state', json_build_object(
            'normal', count(*) FILTER (WHERE i.state = 'normal'),
            'heightened', count(*) FILTER (WHERE i.state = 'heightened'),
            'lockdown', count(*) FILTER (WHERE i.state = 'lockdown'),
            'evacuating', count(*) FILTER (WHERE i.state = 'evacuating'),
            'closed', count(*) FILTER (WHERE i.state = 'closed')),
        'cctv_down', count(*) FILTER (WHERE i.cctv = 'down'),
        'site_ids', COALESCE(json_agg(i.site_id ORDER BY i.site_id), '[]'::json))
      INTO totals FROM inside i;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_area_totals', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('lat', p_lat, 'lon', p_lon, 'radius_m', p_radius_m,
                               'sites', totals->'site_ids'));
    RETURN totals;
END
$$;

-- tocsin_report_now: a controller asks every site inside an area to report
-- its status now. Records the request and the sites asked, and audits it.
-- An area with no site inside returns no row and stores nothing (the
-- broker answers no_recipients).
CREATE OR REPLACE FUNCTION tocsin_report_now(p_user_id integer, p_area jsonb, p_remote text)
RETURNS TABLE (request_id bigint, asked integer[], by_name text, requested_at text)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_status_user(p_user_id, '{controller}',
                                               'ask sites to report');
    q      report_requests%ROWTYPE;
    ids    integer[];
BEGIN
    SELECT array_agg(s.id ORDER BY s.id) INTO ids
      FROM sites s WHERE tocsin_point_in_area(s.lat, s.lon, p_area);
    IF ids IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO report_requests (user_id, org_id, area) VALUES (u.id, u.org_id, p_area)
    RETURNING * INTO q;
    INSERT INTO report_request_sites (request_id, site_id)
    SELECT q.id, x FROM unnest(ids) AS x;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES (q.requested_at, 'report_now', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('request_id', q.id, 'area', p_area, 'asked', to_jsonb(ids)));
    -- the other brokers ask their consoles of these sites (nodes.sql)
    PERFORM tocsin_notify('tocsin_requests', ARRAY[q.id::text]);
    RETURN QUERY SELECT q.id, ids, u.display_name, tocsin_status_time(q.requested_at);
END
$$;

-- One partner report as the protocol writes it (partner_report, inbox,
-- report_updated): what was reported, where ('sighting', 'site' or null,
-- see 041_inbox_queue), and how the force is working it (reject_reason:
-- why a pending CAP import was closed unpublished, 064_cap_import_reject).
CREATE OR REPLACE FUNCTION tocsin_partner_report_json(p partner_reports) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'kind', p.kind, 'text', p.text, 'lat', p.lat, 'lon', p.lon,
        'place', p.place,
        'occurred_at', tocsin_status_time(p.occurred_at),
        'received_at', tocsin_status_time(p.received_at),
        'site_id', p.site_id, 'site_name', s.name, 'org_id', p.org_id, 'org_name', o.name,
        'by', u.display_name, 'image', p.image_id,
        'handled_at', tocsin_status_time(p.handled_at), 'handled_by', h.display_name,
        'assigned_to', p.assigned_to, 'assigned_to_name', a.display_name,
        'alert_id', p.alert_id, 'crime_record_id', p.crime_record_id, 'cap', p.cap,
        'reject_reason', p.reject_reason)
      FROM organisations o, users u
      LEFT JOIN sites s ON s.id = p.site_id
      LEFT JOIN users h ON h.id = p.handled_by
      LEFT JOIN users a ON a.id = p.assigned_to
     WHERE o.id = p.org_id AND u.id = p.user_id;
$$;

-- The time a partner gives for what it reports (occurred_at, RFC 3339
-- text such as 2026-11-22T14:15:54.123Z), checked: TS422 naming
-- occurred_at when it is not such a time or is more than 5 minutes ahead.
-- NULL for NULL.
CREATE OR REPLACE FUNCTION tocsin_report_time(p_occurred_at text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_at  timestamptz;
BEGIN
    IF p_occurred_at IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_occurred_at !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$' THEN
        RAISE EXCEPTION 'occurred_at must be an RFC 3339 time such as 2026-11-22T14:15:54.123Z'
            USING ERRCODE = 'TS422', COLUMN = 'occurred_at';
    END IF;
    BEGIN
        v_at := p_occurred_at::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'occurred_at is not a valid time'
            USING ERRCODE = 'TS422', COLUMN = 'occurred_at';
    END;
    IF v_at > clock_timestamp() + interval '5 minutes' THEN
        RAISE EXCEPTION 'occurred_at is in the future'
            USING ERRCODE = 'TS422', COLUMN = 'occurred_at';
    END IF;
    RETURN v_at;
END
$$;

-- tocsin_report: a site console or a company operator reports something to
-- the force; so may an adapter bound to a controller or analyst (the
-- broker lets controllers and analysts report only over the bus: the
-- ANPR adapter files a hotlist hit no site is near, issue 18). The location is the sighting's when given (place 'sighting'),
-- else the console's site (place 'site'), else none; occurred_at
-- (RFC 3339 text, default now) may not be more than 5 minutes ahead.
-- Audited; returns the report for the force's inbox.
CREATE OR REPLACE FUNCTION tocsin_report(p_user_id integer, p_site_id integer, p_kind text,
                                         p_text text, p_lat double precision,
                                         p_lon double precision, p_occurred_at text,
                                         p_image_id text, p_remote text)
RETURNS TABLE (report_id bigint, report json)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_status_user(p_user_id,
                                               '{site_console,company_operator,controller,analyst}',
                                               'send reports to the force');
    s      sites%ROWTYPE;
    v_at   timestamptz := clock_timestamp();
    p      partner_reports%ROWTYPE;
BEGIN
    IF u.role = 'site_console' AND u.site_id IS DISTINCT FROM p_site_id THEN
        RAISE EXCEPTION 'a console reports for its own site only' USING ERRCODE = 'TS403';
    END IF;
    IF u.role = 'site_console' THEN
        SELECT * INTO s FROM sites WHERE id = u.site_id;
    END IF;
    v_at := COALESCE(tocsin_report_time(p_occurred_at), v_at);
    INSERT INTO partner_reports (kind, text, lat, lon, place, occurred_at, site_id, org_id,
                                 user_id, image_id)
    VALUES (p_kind, p_text, COALESCE(p_lat, s.lat), COALESCE(p_lon, s.lon),
            CASE WHEN p_lat IS NOT NULL THEN 'sighting' WHEN s.id IS NOT NULL THEN 'site' END,
            v_at, s.id, u.org_id, u.id, p_image_id)
    RETURNING * INTO p;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES (p.received_at, 'partner_report', u.id, u.username, u.role, u.org_id, p.site_id,
            p_remote,
            jsonb_build_object('report_id', p.id, 'kind', p.kind, 'lat', p.lat, 'lon', p.lon,
                               'occurred_at', p.occurred_at, 'image', p.image_id));
    -- the other brokers' desks read it (sql/functions/nodes.sql)
    PERFORM tocsin_notify('tocsin_reports', ARRAY[p.id::text]);
    RETURN QUERY SELECT p.id, tocsin_partner_report_json(p);
END
$$;

-- tocsin_inbox: the latest partner reports (at most p_limit, at most 200),
-- newest first, for the force, filtered by p_filter (each member optional,
-- checked by the broker): kind, org_id (the sender's organisation), since
-- and until (received at or after since, before until, compared at
-- millisecond precision as the times are written), handled (true: handled
-- only; false: open only), q (a text, any case, found in the report, its
-- site's, organisation's or sender's name; not a pattern). With the
-- colleagues a report may be assigned to (enabled controllers and
-- analysts). Audited as a consultation, with the filter.
CREATE OR REPLACE FUNCTION tocsin_inbox(p_user_id integer, p_limit integer, p_filter jsonb,
                                        p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE := tocsin_status_user(p_user_id, '{controller,analyst}',
                                                 'read the partner reports');
    lim      integer := least(greatest(COALESCE(p_limit, 200), 1), 200);
    f        jsonb := COALESCE(p_filter, '{}'::jsonb);
    v_q      text := lower(f->>'q');
    reports  json;
    ids      jsonb;
    mates    json;
BEGIN
    SELECT COALESCE(json_agg(tocsin_partner_report_json(l) ORDER BY l.received_at DESC, l.id DESC),
                    '[]'::json),
           COALESCE(jsonb_agg(l.id ORDER BY l.received_at DESC, l.id DESC), '[]'::jsonb)
      INTO reports, ids
      FROM partner_reports l
     WHERE l.id IN (
           SELECT r.id FROM partner_reports r
             JOIN organisations o ON o.id = r.org_id
             JOIN users w ON w.id = r.user_id
             LEFT JOIN sites s ON s.id = r.site_id
            WHERE (NOT f ? 'kind' OR r.kind = f->>'kind')
              AND (NOT f ? 'org_id' OR r.org_id = (f->>'org_id')::integer)
              AND (NOT f ? 'since'
                   OR date_trunc('milliseconds', r.received_at) >= (f->>'since')::timestamptz)
              AND (NOT f ? 'until'
                   OR date_trunc('milliseconds', r.received_at) < (f->>'until')::timestamptz)
              AND (NOT f ? 'handled' OR (r.handled_at IS NOT NULL) = (f->>'handled')::boolean)
              AND (v_q IS NULL
                   OR strpos(lower(concat_ws(' ', r.text, s.name, o.name, w.display_name)),
                             v_q) > 0)
            ORDER BY r.received_at DESC, r.id DESC LIMIT lim);
    SELECT COALESCE(json_agg(json_build_object('id', c.id, 'display_name', c.display_name,
                                               'role', c.role) ORDER BY c.display_name), '[]')
      INTO mates
      FROM users c WHERE c.role IN ('controller', 'analyst') AND NOT c.disabled;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_inbox', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('limit', lim, 'reports', ids, 'filter', f));
    RETURN json_build_object('reports', reports, 'colleagues', mates);
END
$$;

-- One change to a partner report, audited (report_updated, an alteration):
-- p_change is handled, reopened, assigned, unassigned, linked or unlinked;
-- the alert linked or unlinked is the row's alert.
CREATE OR REPLACE FUNCTION tocsin_report_audit(u users, p_report_id bigint, p_change text,
                                               p_alert_id bigint, p_detail jsonb,
                                               p_remote text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    VALUES ('report_updated', u.id, u.username, u.role, u.org_id, p_alert_id, p_remote,
            jsonb_build_object('report_id', p_report_id, 'change', p_change) || p_detail);
$$;

-- Partner report p_report_id, locked until the caller's transaction ends
-- (a report is worked by one desk at a time); TS404 naming report_id when
-- there is none.
CREATE OR REPLACE FUNCTION tocsin_report_lock(p_report_id bigint) RETURNS partner_reports
LANGUAGE plpgsql AS $$
DECLARE
    p   partner_reports%ROWTYPE;
BEGIN
    SELECT * INTO p FROM partner_reports WHERE id = p_report_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no report %', p_report_id USING ERRCODE = 'TS404', COLUMN = 'report_id';
    END IF;
    RETURN p;
END
$$;

-- tocsin_report_update: the force works a partner report. p_fields holds
-- any of handled (boolean), assigned_to (a controller's or analyst's user
-- id, or null) and alert_id (an alert, or null), checked for type by the
-- broker. Each member that changes something is one audit row; one that
-- changes nothing writes nothing. Returns the report as it now is.
CREATE OR REPLACE FUNCTION tocsin_report_update(p_user_id integer, p_report_id bigint,
                                                p_fields jsonb, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u   users%ROWTYPE := tocsin_status_user(p_user_id, '{controller,analyst}',
                                            'work the partner reports');
    p   partner_reports%ROWTYPE := tocsin_report_lock(p_report_id);
    c   users%ROWTYPE;
    v   bigint;
BEGIN
    IF p_fields ? 'handled' AND (p_fields->>'handled')::boolean <> (p.handled_at IS NOT NULL) THEN
        PERFORM tocsin_report_audit(u, p.id,
                                    CASE WHEN p.handled_at IS NULL THEN 'handled' ELSE 'reopened' END,
                                    NULL, '{}', p_remote);
        p.handled_at := CASE WHEN p.handled_at IS NULL THEN clock_timestamp() END;
        p.handled_by := CASE WHEN p.handled_at IS NOT NULL THEN u.id END;
        p.reject_reason := NULL; -- open again: no longer rejected
    END IF;
    IF p_fields ? 'assigned_to' THEN
        v := (p_fields->>'assigned_to')::bigint;
        IF v IS NOT NULL THEN
            SELECT * INTO c FROM users
             WHERE id = v AND NOT disabled AND role IN ('controller', 'analyst');
            IF NOT FOUND THEN
                RAISE EXCEPTION 'assigned_to must be an enabled controller or analyst'
                    USING ERRCODE = 'TS422', COLUMN = 'assigned_to';
            END IF;
        END IF;
        IF v IS DISTINCT FROM p.assigned_to THEN
            PERFORM tocsin_report_audit(u, p.id,
                                        CASE WHEN v IS NULL THEN 'unassigned' ELSE 'assigned' END,
                                        NULL, jsonb_build_object('assigned_to', v,
                                                                 'assigned_to_username', c.username,
                                                                 'was', p.assigned_to),
                                        p_remote);
            p.assigned_to := v;
            p.assigned_at := CASE WHEN v IS NOT NULL THEN clock_timestamp() END;
        END IF;
    END IF;
    IF p_fields ? 'alert_id' THEN
        v := (p_fields->>'alert_id')::bigint;
        IF v IS NOT NULL AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = v) THEN
            RAISE EXCEPTION 'no alert %', v USING ERRCODE = 'TS404', COLUMN = 'alert_id';
        END IF;
        IF v IS DISTINCT FROM p.alert_id THEN
            PERFORM tocsin_report_audit(u, p.id,
                                        CASE WHEN v IS NULL THEN 'unlinked' ELSE 'linked' END,
                                        COALESCE(v, p.alert_id), '{}', p_remote);
            p.alert_id := v;
        END IF;
    END IF;
    UPDATE partner_reports
       SET handled_at = p.handled_at, handled_by = p.handled_by, assigned_to = p.assigned_to,
           assigned_at = p.assigned_at, alert_id = p.alert_id, reject_reason = p.reject_reason
     WHERE id = p.id;
    RETURN tocsin_partner_report_json(p);
END
$$;

-- A site's history, read and audited as one consultation (issue #5, "view
-- a site's history"; DPA 2018 s.62): tocsin_site_history() returns the
-- site (id, name, guarding company), its building status reports and the
-- alerts it received (for an operator or a console, only those it may read
-- itself: tocsin_alert_readable, the rule of receipts, relays, CAP export
-- and images; the force reads them all), newest first, and writes one audit row
-- 'view_site_history' (who, from where, which site, how many rows) in the
-- same transaction as the read. A refused request raises before anything
-- is written. Scope (docs/protocol.md):
--   controller, analyst  any site (TS404 'site_id' when there is none);
--   company_operator     the sites its company guards (TS403 otherwise,
--                        also for ids that name no site: no enumeration);
--   site_console         its own site only (TS403 otherwise);
--   admin                refused, as the status board is (TS403).

-- One status report of the history, every field of the report and who
-- made it.
CREATE OR REPLACE FUNCTION tocsin_site_history_report(r status_reports, p_by text)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'report_id', r.id, 'people', r.people, 'officers', r.officers,
        'trauma_packs', r.trauma_packs, 'first_aid_kits', r.first_aid_kits,
        'defibrillators', r.defibrillators, 'cctv', r.cctv, 'state', r.state,
        'note', r.note, 'first_aiders', r.first_aiders,
        'trauma_packs_where', r.trauma_packs_where,
        'defibrillators_where', r.defibrillators_where, 'stale', to_json(r.stale),
        'in_reply_to', CASE WHEN r.in_reply_to IS NOT NULL THEN 'r-' || r.in_reply_to END,
        'reported_by', p_by, 'reported_at', tocsin_status_time(r.reported_at));
$$;

-- The history itself. p_before (NULL: now) pages both lists: only rows
-- strictly older than it (compared at millisecond precision, the
-- precision the times are written in). p_limit bounds each list.
CREATE OR REPLACE FUNCTION tocsin_site_history(p_user_id integer, p_site_id integer,
                                               p_limit integer, p_before timestamptz,
                                               p_remote text)
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
               AND (own = 'all' OR tocsin_alert_readable(u.id, a.id))
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

GRANT EXECUTE ON FUNCTION
    tocsin_status_time(timestamptz),
    tocsin_board_site(status_board),
    tocsin_report_now_progress(bigint),
    tocsin_status_user(integer, text[], text),
    tocsin_status_audit_detail(status_reports, boolean),
    tocsin_status(integer, integer, integer, integer, integer, integer, integer, text, text,
                  text, integer, text, text, text[], bigint, text),
    tocsin_status_batch(jsonb),
    tocsin_board(integer, text),
    tocsin_area_totals(integer, double precision, double precision, double precision, text),
    tocsin_report_now(integer, jsonb, text),
    tocsin_partner_report_json(partner_reports),
    tocsin_report(integer, integer, text, text, double precision, double precision, text,
                  text, text),
    tocsin_inbox(integer, integer, jsonb, text),
    tocsin_report_audit(users, bigint, text, bigint, jsonb, text),
    tocsin_report_lock(bigint),
    tocsin_report_update(integer, bigint, jsonb, text),
    tocsin_site_history_report(status_reports, text)
    TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_site_history(integer, integer, integer, timestamptz, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_site_history(integer, integer, integer, timestamptz, text)
    TO tocsin_broker;
