-- 040_status_where.sql: building status says where (issue 17, item 8).
--
-- A status report may name where the trauma packs and the defibrillators
-- are (a short text for each, as CityINTEL collects them: "Reception
-- desk; level 3 kitchen"), give the number of trained first-aiders, and
-- say which of its counts were carried over from the site's last report
-- without anyone confirming them (stale: the console's form prefills a
-- report-now answer and marks each prefilled number until it is touched
-- or confirmed; a count not listed was confirmed). All optional: a report
-- without them is stored as before (NULL, and stale empty).
--
-- The columns come last in status_board, so that CREATE OR REPLACE VIEW
-- keeps the others where they were (tocsin_board_site reads its rows).
-- stale's default is a constant, so adding it rewrites nothing; its CHECK
-- reads every row once, here.
--
-- tocsin_status() takes the new fields as arguments: its old signature
-- is dropped here and sql/functions/status.sql makes the new one.

ALTER TABLE status_reports
    ADD COLUMN first_aiders integer CHECK (first_aiders BETWEEN 0 AND 100000),
    ADD COLUMN trauma_packs_where text CHECK (length(trauma_packs_where) <= 200),
    ADD COLUMN defibrillators_where text CHECK (length(defibrillators_where) <= 200),
    ADD COLUMN stale text[] NOT NULL DEFAULT '{}'
        CHECK (stale <@ ARRAY['people', 'officers', 'trauma_packs', 'first_aid_kits',
                              'defibrillators', 'first_aiders']);

CREATE OR REPLACE VIEW status_board AS
SELECT s.id AS site_id, s.name AS site_name, s.lat, s.lon, x.code AS sector, s.guard_org_id,
       r.id AS report_id, r.people, r.officers, r.trauma_packs, r.first_aid_kits,
       r.defibrillators, r.cctv, r.state, r.note, r.reported_at,
       r.first_aiders, r.trauma_packs_where, r.defibrillators_where, r.stale
  FROM sites s
  JOIN sectors x ON x.id = s.sector_id
  LEFT JOIN status_latest l ON l.site_id = s.id
  LEFT JOIN status_reports r ON r.id = l.report_id;

DROP FUNCTION IF EXISTS tocsin_status(integer, integer, integer, integer, integer, integer,
                                      integer, text, text, text, bigint, text);
