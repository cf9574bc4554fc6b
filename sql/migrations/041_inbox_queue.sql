-- 041_inbox_queue.sql: the partner reports inbox is a work queue (issue
-- 17, item 9).
--
-- place: where lat/lon come from. 'sighting': the sender put a pin where
-- it happened; 'site': the console's own site (no pin); NULL: no place (an
-- operator without a pin). Reports from before this migration did not say;
-- a report whose lat/lon are its site's is taken as 'site', one with other
-- coordinates as 'sighting'.
--
-- The force works the queue (tocsin_report_update, sql/functions/
-- status.sql): handled_at/handled_by (NULL: open), assigned_to (a
-- controller or analyst) and alert_id (the alert the report led to, or
-- that it belongs with). The broker's role may change only those
-- columns; each change is an audit row (report_updated).
--
-- No index for the filters: the inbox reads at most 200 reports of a
-- table that grows by a few hundred a day; the newest-first index
-- (partner_reports_received_idx) serves the order and the time window.

ALTER TABLE partner_reports
    ADD COLUMN place text CHECK (place IN ('site', 'sighting')),
    ADD COLUMN handled_at timestamptz,
    ADD COLUMN handled_by integer REFERENCES users (id),
    ADD COLUMN assigned_to integer REFERENCES users (id),
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN alert_id bigint REFERENCES alerts (id),
    ADD CHECK ((handled_at IS NULL) = (handled_by IS NULL)),
    ADD CHECK (place IS NULL OR lat IS NOT NULL);

UPDATE partner_reports p
   SET place = CASE WHEN s.id IS NOT NULL AND p.lat = s.lat AND p.lon = s.lon THEN 'site'
                    ELSE 'sighting' END
  FROM partner_reports q
  LEFT JOIN sites s ON s.id = q.site_id
 WHERE q.id = p.id AND p.lat IS NOT NULL;

GRANT UPDATE (handled_at, handled_by, assigned_to, assigned_at, alert_id)
    ON partner_reports TO tocsin_broker;

DROP FUNCTION IF EXISTS tocsin_inbox(integer, integer, text);
