-- 026_recipients_fast.sql: a cheaper publish to many sites (issue 6).
--
-- Every alert stores one alert_recipients row per recipient site inside
-- its publish transaction, and the alert reaches no console before that
-- transaction commits. The table's two foreign keys cost a referential
-- integrity check per row: for an alert to 1,034 sites (the bench's
-- city), 2,068 checks, about a third of tocsin_publish's time (26 ms
-- without them against 40 ms with them, on a loaded bench machine).
--
-- As with deliveries (sql/017), the rows need no check row by row: only
-- the broker writes them, through tocsin_publish and tocsin_relay, with
-- the id of the alert they have just inserted and site ids they have just
-- selected from sites; and alerts and sites are never deleted (sites are
-- disabled). The keys that matter
-- for access stay: acks, reads, answers and escalations still reference
-- alert_recipients (alert_id, site_id), so only a recipient site can
-- acknowledge, read or answer an alert.

ALTER TABLE alert_recipients
    DROP CONSTRAINT IF EXISTS alert_recipients_alert_id_fkey,
    DROP CONSTRAINT IF EXISTS alert_recipients_site_id_fkey;
