-- 004_status.sql: building status reports and the status board, area
-- totals, report-now requests, and partner reports to the force.
--
-- Every status report is kept (status_reports); status_latest names each
-- site's latest one, so the board is one join. Viewing the board, area
-- totals and the inbox is audited as a consultation (DPA 2018 s.62), as is
-- every report received. Identity (user, site) comes from the broker's
-- session, never from the message; the functions check it again here.

-- Report-now requests: who asked, over which area, and which sites were
-- asked. A site's answer is the first status report it sends naming the
-- request (report_request_sites.report_id).
CREATE TABLE report_requests (
    id            bigserial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users (id),
    org_id        integer NOT NULL REFERENCES organisations (id),
    area          jsonb NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE status_reports (
    id              bigserial PRIMARY KEY,
    site_id         integer NOT NULL REFERENCES sites (id),
    user_id         integer NOT NULL REFERENCES users (id),
    people          integer NOT NULL CHECK (people BETWEEN 0 AND 100000),
    officers        integer NOT NULL CHECK (officers BETWEEN 0 AND 100000),
    trauma_packs    integer NOT NULL CHECK (trauma_packs BETWEEN 0 AND 100000),
    first_aid_kits  integer NOT NULL CHECK (first_aid_kits BETWEEN 0 AND 100000),
    defibrillators  integer NOT NULL CHECK (defibrillators BETWEEN 0 AND 100000),
    cctv            text NOT NULL CHECK (cctv IN ('working', 'partial', 'down')),
    state           text NOT NULL CHECK (state IN ('normal', 'heightened', 'lockdown',
                                                   'evacuating', 'closed')),
    note            text CHECK (length(note) <= 500),
    -- The request the console said it answers, as it said it (it need not
    -- name an open request: the report is kept either way).
    in_reply_to     bigint,
    reported_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX status_reports_site_idx ON status_reports (site_id, id DESC);

-- The latest report of each site that has reported (the board).
CREATE TABLE status_latest (
    site_id    integer PRIMARY KEY REFERENCES sites (id),
    report_id  bigint NOT NULL REFERENCES status_reports (id)
);

CREATE TABLE report_request_sites (
    request_id   bigint NOT NULL REFERENCES report_requests (id),
    site_id      integer NOT NULL REFERENCES sites (id),
    report_id    bigint REFERENCES status_reports (id),   -- NULL: pending
    answered_at  timestamptz,
    PRIMARY KEY (request_id, site_id)
);
CREATE INDEX report_request_sites_site_idx ON report_request_sites (site_id);

-- Reports from partners to the force. image_id names an uploaded image
-- (images are kept elsewhere; no foreign key on purpose).
CREATE TABLE partner_reports (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('sighting', 'suspicious', 'crime', 'other')),
    text         text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    lat          double precision CHECK (lat BETWEEN -90 AND 90),
    lon          double precision CHECK (lon BETWEEN -180 AND 180),
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    site_id      integer REFERENCES sites (id),
    org_id       integer NOT NULL REFERENCES organisations (id),
    user_id      integer NOT NULL REFERENCES users (id),
    image_id     text CHECK (length(image_id) BETWEEN 1 AND 64),
    CHECK ((lat IS NULL) = (lon IS NULL))
);
CREATE INDEX partner_reports_received_idx ON partner_reports (received_at DESC, id DESC);

-- A time as the protocol writes it: RFC 3339, UTC, milliseconds.
CREATE FUNCTION tocsin_status_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$$;

-- Great-circle distance in metres (haversine, mean earth radius
-- 6,371,008.8 m). No PostGIS: at city scale this is exact enough.
CREATE FUNCTION tocsin_distance_m(lat1 double precision, lon1 double precision,
                                  lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 2 * 6371008.8 * asin(least(1.0, sqrt(
               sin(radians(lat2 - lat1) / 2) ^ 2
             + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)));
$$;

-- tocsin_point_in_area: whether (lat, lon) lies inside an area as the
-- protocol writes it: {"circle":{"lat":…,"lon":…,"radius_m":…}} (distance
-- to the centre at most the radius) or {"polygon":[[lat,lon],…]} (closed,
-- at least 4 points; ray casting on lat/lon, fine at city scale, not across
-- the antimeridian; a point exactly on an edge may fall either way). Used
-- for report-now and alert targeting. A malformed area raises TS422 with
-- COLUMN 'area' rather than silently matching nothing. OR REPLACE: a
-- database that took 006_alert_model before this file existed has its
-- stand-in definition, which this one replaces.
CREATE OR REPLACE FUNCTION tocsin_point_in_area(p_lat double precision,
                                                p_lon double precision, p_area jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c        jsonb;
    poly     jsonb;
    n        integer;
    crosses  integer;
BEGIN
    -- No point or no area (SQL or JSON null) contains nothing: callers may
    -- pass a missing area in a branch that does not use the result.
    IF p_lat IS NULL OR p_lon IS NULL OR p_area IS NULL OR jsonb_typeof(p_area) = 'null' THEN
        RETURN false;
    END IF;
    IF jsonb_typeof(p_area) IS DISTINCT FROM 'object'
       OR (p_area ? 'circle') = (p_area ? 'polygon') THEN
        RAISE EXCEPTION 'an area needs exactly one of circle or polygon'
            USING ERRCODE = 'TS422', COLUMN = 'area';
    END IF;
    IF p_area ? 'circle' THEN
        c := p_area->'circle';
        IF jsonb_typeof(c) IS DISTINCT FROM 'object'
           OR jsonb_typeof(c->'lat') IS DISTINCT FROM 'number'
           OR jsonb_typeof(c->'lon') IS DISTINCT FROM 'number'
           OR jsonb_typeof(c->'radius_m') IS DISTINCT FROM 'number' THEN
            RAISE EXCEPTION 'a circle needs numbers lat, lon and radius_m'
                USING ERRCODE = 'TS422', COLUMN = 'area.circle';
        END IF;
        RETURN tocsin_distance_m(p_lat, p_lon, (c->>'lat')::double precision,
                                 (c->>'lon')::double precision)
               <= (c->>'radius_m')::double precision;
    END IF;
    poly := p_area->'polygon';
    n := CASE WHEN jsonb_typeof(poly) = 'array' THEN jsonb_array_length(poly) ELSE 0 END;
    IF n < 4 OR poly->0 IS DISTINCT FROM poly->(n - 1)
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(poly) AS e(p)
                   WHERE CASE WHEN jsonb_typeof(e.p) = 'array'
                              THEN jsonb_array_length(e.p) <> 2
                                   OR jsonb_typeof(e.p->0) IS DISTINCT FROM 'number'
                                   OR jsonb_typeof(e.p->1) IS DISTINCT FROM 'number'
                              ELSE true END) THEN
        RAISE EXCEPTION 'a polygon needs at least 4 [lat, lon] points, the last equal to the first'
            USING ERRCODE = 'TS422', COLUMN = 'area.polygon';
    END IF;
    -- Count the edges that a ray from the point towards growing longitude
    -- crosses: odd means inside. CASE keeps the division away from
    -- horizontal edges.
    SELECT count(*) INTO crosses
      FROM (SELECT (e.p->>0)::double precision AS a_lat, (e.p->>1)::double precision AS a_lon,
                   lead((e.p->>0)::double precision) OVER (ORDER BY e.i) AS b_lat,
                   lead((e.p->>1)::double precision) OVER (ORDER BY e.i) AS b_lon
              FROM jsonb_array_elements(poly) WITH ORDINALITY AS e(p, i)) AS edge
     WHERE edge.b_lat IS NOT NULL
       AND CASE WHEN (edge.a_lat > p_lat) <> (edge.b_lat > p_lat)
                THEN p_lon < (edge.b_lon - edge.a_lon) * (p_lat - edge.a_lat)
                             / (edge.b_lat - edge.a_lat) + edge.a_lon
                ELSE false END;
    RETURN crosses % 2 = 1;
END
$$;

-- Each site with its latest report (status columns NULL when it never
-- reported).
CREATE VIEW status_board AS
SELECT s.id AS site_id, s.name AS site_name, s.lat, s.lon, x.code AS sector, s.guard_org_id,
       r.id AS report_id, r.people, r.officers, r.trauma_packs, r.first_aid_kits,
       r.defibrillators, r.cctv, r.state, r.note, r.reported_at
  FROM sites s
  JOIN sectors x ON x.id = s.sector_id
  LEFT JOIN status_latest l ON l.site_id = s.id
  LEFT JOIN status_reports r ON r.id = l.report_id;

-- One board entry as the protocol writes it (board and status_update).
CREATE FUNCTION tocsin_board_site(b status_board) RETURNS json
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
CREATE FUNCTION tocsin_report_now_progress(p_request_id bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'reported', COALESCE(json_agg(q.site_id ORDER BY q.site_id)
                             FILTER (WHERE q.report_id IS NOT NULL), '[]'::json),
        'pending', COALESCE(json_agg(q.site_id ORDER BY q.site_id)
                            FILTER (WHERE q.report_id IS NULL), '[]'::json))
      FROM report_request_sites q WHERE q.request_id = p_request_id;
$$;

-- The active, enabled user, or TS403 when it does not hold one of roles.
CREATE FUNCTION tocsin_status_user(p_user_id integer, p_roles text[], p_what text)
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
CREATE FUNCTION tocsin_status(p_user_id integer, p_site_id integer, p_people integer,
                              p_officers integer, p_trauma_packs integer,
                              p_first_aid_kits integer, p_defibrillators integer,
                              p_cctv text, p_state text, p_note text, p_in_reply_to bigint,
                              p_remote text)
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

-- tocsin_board: the latest status of every site the user may see (the
-- force: all; a company operator: the sites its company guards), audited
-- as a consultation.
CREATE FUNCTION tocsin_board(p_user_id integer, p_remote text)
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
CREATE FUNCTION tocsin_area_totals(p_user_id integer, p_lat double precision,
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
CREATE FUNCTION tocsin_report_now(p_user_id integer, p_area jsonb, p_remote text)
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
CREATE FUNCTION tocsin_partner_report_json(p partner_reports) RETURNS json
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
CREATE FUNCTION tocsin_report(p_user_id integer, p_site_id integer, p_kind text, p_text text,
                              p_lat double precision, p_lon double precision,
                              p_occurred_at text, p_image_id text, p_remote text)
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
CREATE FUNCTION tocsin_inbox(p_user_id integer, p_limit integer, p_remote text)
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

GRANT SELECT, INSERT ON status_reports, report_requests, partner_reports TO tocsin_broker;
GRANT SELECT, INSERT, UPDATE ON status_latest, report_request_sites TO tocsin_broker;
GRANT SELECT ON status_board TO tocsin_broker;
GRANT USAGE ON SEQUENCE status_reports_id_seq, report_requests_id_seq, partner_reports_id_seq
    TO tocsin_broker;
GRANT EXECUTE ON FUNCTION
    tocsin_status_time(timestamptz),
    tocsin_distance_m(double precision, double precision, double precision, double precision),
    tocsin_point_in_area(double precision, double precision, jsonb),
    tocsin_board_site(status_board),
    tocsin_report_now_progress(bigint),
    tocsin_status_user(integer, text[], text),
    tocsin_status(integer, integer, integer, integer, integer, integer, integer, text, text,
                  text, bigint, text),
    tocsin_board(integer, text),
    tocsin_area_totals(integer, double precision, double precision, double precision, text),
    tocsin_report_now(integer, jsonb, text),
    tocsin_partner_report_json(partner_reports),
    tocsin_report(integer, integer, text, text, double precision, double precision, text,
                  text, text),
    tocsin_inbox(integer, integer, text)
    TO tocsin_broker;
