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
CREATE OR REPLACE FUNCTION tocsin_board_site(b status_board) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'site_id', b.site_id, 'site_name', b.site_name, 'lat', b.lat, 'lon', b.lon,
        'sector', b.sector, 'guard_org_id', b.guard_org_id, 'people', b.people,
        'officers', b.officers, 'trauma_packs', b.trauma_packs,
        'first_aid_kits', b.first_aid_kits, 'defibrillators', b.defibrillators,
        'cctv', b.cctv, 'state', b.state, 'note', b.note,
        'reported_at', tocsin_status_time(b.reported_at));
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

-- tocsin_status: a site console reports its building's status. Stores the
-- report, makes it the site's latest, records it as the answer to the
-- report-now request it names when that request asked this site and the
-- site has not answered it yet, and audits it. Returns the new board entry
-- and, when it answered a request, the request's progress for the
-- controller who asked.
CREATE OR REPLACE FUNCTION tocsin_status(p_user_id integer, p_site_id integer, p_people integer,
                                         p_officers integer, p_trauma_packs integer,
                                         p_first_aid_kits integer, p_defibrillators integer,
                                         p_cctv text, p_state text, p_note text,
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
                                first_aid_kits, defibrillators, cctv, state, note, in_reply_to)
    VALUES (u.site_id, u.id, p_people, p_officers, p_trauma_packs, p_first_aid_kits,
            p_defibrillators, p_cctv, p_state, p_note, p_in_reply_to)
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
            p_remote,
            jsonb_build_object('report_id', r.id, 'people', r.people, 'officers', r.officers,
                               'trauma_packs', r.trauma_packs,
                               'first_aid_kits', r.first_aid_kits,
                               'defibrillators', r.defibrillators, 'cctv', r.cctv,
                               'state', r.state, 'note', r.note,
                               'in_reply_to', r.in_reply_to, 'answered', fresh));

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
-- defibrillators, cctv, state, note (or null), in_reply_to (or null),
-- remote. One row per element, in order (idx from 1).
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
                                                 note text, remote text)
                 ORDER BY o.idx),
            ids AS (SELECT nextval('status_reports_id_seq') AS id, src.* FROM src),
            ins AS (
                INSERT INTO status_reports (id, site_id, user_id, people, officers,
                                            trauma_packs, first_aid_kits, defibrillators,
                                            cctv, state, note, in_reply_to)
                SELECT d.id, d.site_id, d.user_id, d.people, d.officers, d.trauma_packs,
                       d.first_aid_kits, d.defibrillators, d.cctv, d.state, d.note, NULL
                  FROM ids d ORDER BY d.id
                RETURNING *),
            lat AS (
                INSERT INTO status_latest AS l (site_id, report_id)
                SELECT n.site_id, max(n.id) FROM ins n GROUP BY n.site_id
                ON CONFLICT ON CONSTRAINT status_latest_pkey
                DO UPDATE SET report_id = EXCLUDED.report_id
                        WHERE l.report_id < EXCLUDED.report_id),
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
                                                   n.reported_at)::status_board)
                             ORDER BY n.idx)
              INTO v_idx, v_ids, v_sites, v_guards, v_times, v_boards
              FROM (SELECT i.*, d.idx FROM ins i JOIN ids d ON d.id = i.id) n
              JOIN sites s ON s.id = n.site_id
              JOIN sectors x ON x.id = s.sector_id;
        EXCEPTION
        WHEN lock_not_available THEN
            RAISE; -- lock_timeout (db.c sets it): no refusal; the broker redoes it
        WHEN OTHERS THEN
            v_ids := NULL; -- the loop below says which report failed, and why
        END;
        IF v_ids IS NOT NULL THEN
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
                                 e->>'note', (e->>'in_reply_to')::bigint, e->>'remote');
            idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
            report_id := r.report_id; site_id := r.site_id; guard_org_id := r.guard_org_id;
            reported_at := r.reported_at; site := r.site; answered := r.answered;
            request_id := r.request_id; requested_by := r.requested_by;
            progress := r.progress;
            RETURN NEXT;
        EXCEPTION
        WHEN lock_not_available THEN
            RAISE; -- lock_timeout (db.c sets it): no refusal; the broker redoes it
        WHEN OTHERS THEN
            idx := i;
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_field = COLUMN_NAME;
            report_id := NULL; site_id := NULL; guard_org_id := NULL; reported_at := NULL;
            site := NULL; answered := NULL; request_id := NULL; requested_by := NULL;
            progress := NULL;
            RETURN NEXT;
        END;
    END LOOP;
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
    RETURN QUERY SELECT q.id, ids, u.display_name, tocsin_status_time(q.requested_at);
END
$$;

-- One partner report as the protocol writes it (partner_report and inbox).
CREATE OR REPLACE FUNCTION tocsin_partner_report_json(p partner_reports) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'kind', p.kind, 'text', p.text, 'lat', p.lat, 'lon', p.lon,
        'occurred_at', tocsin_status_time(p.occurred_at),
        'received_at', tocsin_status_time(p.received_at),
        'site_id', p.site_id, 'site_name', s.name, 'org_id', p.org_id, 'org_name', o.name,
        'by', u.display_name, 'image', p.image_id)
      FROM organisations o, users u
      LEFT JOIN sites s ON s.id = p.site_id
     WHERE o.id = p.org_id AND u.id = p.user_id;
$$;

-- tocsin_report: a site console or a company operator reports something to
-- the force. The location defaults to the console's site; occurred_at
-- (RFC 3339 text, default now) may not be more than 5 minutes ahead.
-- Audited; returns the report for the force's inbox.
CREATE OR REPLACE FUNCTION tocsin_report(p_user_id integer, p_site_id integer, p_kind text,
                                         p_text text, p_lat double precision,
                                         p_lon double precision, p_occurred_at text,
                                         p_image_id text, p_remote text)
RETURNS TABLE (report_id bigint, report json)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE := tocsin_status_user(p_user_id, '{site_console,company_operator}',
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
    IF p_occurred_at IS NOT NULL THEN
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
    END IF;
    INSERT INTO partner_reports (kind, text, lat, lon, occurred_at, site_id, org_id, user_id,
                                 image_id)
    VALUES (p_kind, p_text, COALESCE(p_lat, s.lat), COALESCE(p_lon, s.lon), v_at, s.id,
            u.org_id, u.id, p_image_id)
    RETURNING * INTO p;
    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES (p.received_at, 'partner_report', u.id, u.username, u.role, u.org_id, p.site_id,
            p_remote,
            jsonb_build_object('report_id', p.id, 'kind', p.kind, 'lat', p.lat, 'lon', p.lon,
                               'occurred_at', p.occurred_at, 'image', p.image_id));
    RETURN QUERY SELECT p.id, tocsin_partner_report_json(p);
END
$$;

-- tocsin_inbox: the latest partner reports (at most p_limit, at most 200),
-- newest first, for the force; audited as a consultation.
CREATE OR REPLACE FUNCTION tocsin_inbox(p_user_id integer, p_limit integer, p_remote text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE := tocsin_status_user(p_user_id, '{controller,analyst}',
                                                 'read the partner reports');
    lim      integer := least(greatest(COALESCE(p_limit, 200), 1), 200);
    reports  json;
    ids      jsonb;
BEGIN
    SELECT COALESCE(json_agg(tocsin_partner_report_json(l) ORDER BY l.received_at DESC, l.id DESC),
                    '[]'::json),
           COALESCE(jsonb_agg(l.id ORDER BY l.received_at DESC, l.id DESC), '[]'::jsonb)
      INTO reports, ids
      FROM partner_reports l
     WHERE l.id IN (SELECT r.id FROM partner_reports r
                     ORDER BY r.received_at DESC, r.id DESC LIMIT lim);
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    VALUES ('view_inbox', u.id, u.username, u.role, u.org_id, p_remote,
            jsonb_build_object('limit', lim, 'reports', ids));
    RETURN reports;
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
        'note', r.note,
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
    tocsin_status(integer, integer, integer, integer, integer, integer, integer, text, text,
                  text, bigint, text),
    tocsin_status_batch(jsonb),
    tocsin_board(integer, text),
    tocsin_area_totals(integer, double precision, double precision, double precision, text),
    tocsin_report_now(integer, jsonb, text),
    tocsin_partner_report_json(partner_reports),
    tocsin_report(integer, integer, text, text, double precision, double precision, text,
                  text, text),
    tocsin_inbox(integer, integer, text),
    tocsin_site_history_report(status_reports, text)
    TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_site_history(integer, integer, integer, timestamptz, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_site_history(integer, integer, integer, timestamptz, text)
    TO tocsin_broker;
