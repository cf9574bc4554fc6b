-- 022_status_batch.sql: building status reports written in batches.
--
-- One transaction (one commit, one fsync) and one result for every status
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
-- p_reports is a JSON array of objects with tocsin_status()'s arguments:
-- user_id, site_id, people, officers, trauma_packs, first_aid_kits,
-- defibrillators, cctv, state, note (or null), in_reply_to (or null),
-- remote. One row per element, in order (idx from 1).

CREATE FUNCTION tocsin_status_batch(p_reports jsonb)
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
    v_ids bigint[];
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
            SELECT array_agg(d.id ORDER BY d.idx) INTO v_ids FROM ids d;
        EXCEPTION WHEN OTHERS THEN
            v_ids := NULL; -- the loop below says which report failed, and why
        END;
        IF v_ids IS NOT NULL THEN
            RETURN QUERY
            SELECT d.idx::integer, NULL::text, NULL::text, NULL::text, n.id, n.site_id,
                   s.guard_org_id, tocsin_status_time(n.reported_at),
                   tocsin_board_site(ROW(s.id, s.name, s.lat, s.lon, x.code, s.guard_org_id,
                                         n.id, n.people, n.officers, n.trauma_packs,
                                         n.first_aid_kits, n.defibrillators, n.cctv, n.state,
                                         n.note, n.reported_at)::status_board),
                   false, NULL::bigint, NULL::integer, NULL::json
              FROM unnest(v_ids) WITH ORDINALITY AS d(id, idx)
              JOIN status_reports n ON n.id = d.id
              JOIN sites s ON s.id = n.site_id
              JOIN sectors x ON x.id = s.sector_id
             ORDER BY d.idx;
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

GRANT EXECUTE ON FUNCTION tocsin_status_batch(jsonb) TO tocsin_broker;
