-- 031_status_batch_one_pass.sql: a batch of status reports answered from
-- the rows it inserted, without reading status_reports again (issue 6).
--
-- tocsin_status_batch (sql/022) stored a batch in one statement, kept the
-- new ids, then read status_reports back by those ids (and sites and
-- sectors) to build each console's answer and board entry. With
-- auto_explain on a batch of 667 reports from the bench (10,000 consoles
-- report at once; `make bench` misses 20,000 stored a second by a few
-- per cent), that second statement took 15 ms of the function's 55: the
-- planner hashed the whole of status_reports (12,668 rows after one burst,
-- growing with every report ever made) to find the 667 new ones. Now the
-- storing statement itself builds the answers from its own RETURNING rows
-- joined to sites and sectors, into arrays, and the function returns
-- them; status_reports is not read. The same 667 reports in a loop of 12
-- rolled-back calls: median 28.2 ms before, 25.2 ms after. Same rows, same
-- order, same columns; the per-report path (a reply to a report-now
-- request, a refused report) is unchanged.

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
        EXCEPTION WHEN OTHERS THEN
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
        EXCEPTION WHEN OTHERS THEN
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

