-- 07_status.sql: building status reports and the status board, report-now
-- requests, and partner reports to the force.
--
-- Every status report is kept (status_reports); status_latest names each
-- site's latest one, so the board is one join. Viewing the board, area
-- totals and the inbox is audited as a consultation (DPA 2018 s.62), as is
-- every report received. Identity (user, site) comes from the broker's
-- session, never from the message; the functions (sql/functions/status.sql)
-- check it again.

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

-- No foreign keys on site_id and user_id, nor on status_latest.report_id
-- (issue 6): they cost three checks per report, a quarter of a batch:
-- 1,000 reports took 44.6 ms with them and 29.3 ms without (median of 7,
-- tocsin_status_batch in a rolled-back transaction, on the database of a
-- `make bench` run). They check nothing the functions do not already
-- hold: both tocsin_status and tocsin_status_batch take site_id and
-- user_id from the enabled site console's users row (whose site_id
-- references sites), in the same transaction, and status_latest.report_id
-- is the id of the report just inserted; users and sites are never deleted
-- (they are disabled). report_request_sites still references
-- status_reports.
CREATE TABLE status_reports (
    id              bigserial PRIMARY KEY,
    site_id         integer NOT NULL,
    user_id         integer NOT NULL,
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
    report_id  bigint NOT NULL
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

-- Each site with its latest report (status columns NULL when it never
-- reported). Its row type is tocsin_board_site's argument.
CREATE VIEW status_board AS
SELECT s.id AS site_id, s.name AS site_name, s.lat, s.lon, x.code AS sector, s.guard_org_id,
       r.id AS report_id, r.people, r.officers, r.trauma_packs, r.first_aid_kits,
       r.defibrillators, r.cctv, r.state, r.note, r.reported_at
  FROM sites s
  JOIN sectors x ON x.id = s.sector_id
  LEFT JOIN status_latest l ON l.site_id = s.id
  LEFT JOIN status_reports r ON r.id = l.report_id;

GRANT SELECT, INSERT ON status_reports, report_requests, partner_reports TO tocsin_broker;
GRANT SELECT, INSERT, UPDATE ON status_latest, report_request_sites TO tocsin_broker;
GRANT SELECT ON status_board TO tocsin_broker;
GRANT USAGE ON SEQUENCE status_reports_id_seq, report_requests_id_seq, partner_reports_id_seq
    TO tocsin_broker, tocsin_admin;
