-- 028_receipts_status_fast.sql: cheaper acknowledgement and status batches
-- (issue 6). Measured on the database of a `make bench` run, with
-- auto_explain for the bench's batches and psql for the status batch.
--
-- 1. Acknowledgements: tocsin_receipt_batch_fast asked whether any jid of
--    the batch was applied before with `jid = ANY (p_jids)` over
--    journal_applied. The planner cannot tell the array's length, guessed
--    ten elements and scanned the table, comparing each row with every
--    jid of the batch: 3,457 rows x 2,000 jids took 110 to 170 ms of each
--    2,000-ack batch (the whole batch took 137 ms). Joined to the table's
--    primary key instead, the test is 2,000 lookups or one hash join.
--    The function is restated whole (an applied migration cannot be
--    edited); that test is its only change.
--
-- 2. Status reports: the foreign keys of status_reports (site_id, user_id)
--    and status_latest (report_id) cost three checks per report, a quarter
--    of a batch: 1,000 reports took 44.6 ms with them and 29.3 ms without
--    (median of 7, tocsin_status_batch in a rolled-back transaction). They
--    check nothing the functions do not already hold: both tocsin_status
--    and tocsin_status_batch take site_id and user_id from the enabled
--    site console's users row (whose site_id references sites), in the
--    same transaction, and status_latest.report_id is the id of the report
--    just inserted; users and sites are never deleted (they are disabled).
--    report_request_sites still references status_reports.
--
-- 3. tocsin_status_time was declared IMMUTABLE around to_char, which is
--    only STABLE, so PostgreSQL could not inline it and ran it as a
--    separate SQL function twice per report. Declared STABLE, it is
--    inlined (40.3 ms instead of 44.6 ms for 1,000 reports). Nothing
--    indexes on it.

CREATE OR REPLACE FUNCTION tocsin_receipt_batch_fast(p_jids text[], p_kinds text[], p_users integer[],
                                          p_alerts bigint[], p_remotes text[],
                                          p_at timestamptz[])
RETURNS tocsin_receipt_row[]
LANGUAGE plpgsql AS $$
DECLARE
    n        integer := coalesce(array_length(p_kinds, 1), 0);
    v_first  boolean[];
    rows     tocsin_receipt_row[];
BEGIN
    IF n < 2 OR cardinality(p_jids) <> n OR cardinality(p_users) <> n
       OR cardinality(p_alerts) <> n OR cardinality(p_remotes) <> n
       OR cardinality(p_at) <> n THEN
        RETURN NULL;
    END IF;
    -- every item an enabled site console's, for an alert its site received,
    -- under a jid seen neither before nor twice here
    IF EXISTS (
        SELECT 1
          FROM unnest(p_kinds, p_users, p_alerts) AS x(kind, user_id, alert_id)
          LEFT JOIN users u ON u.id = x.user_id AND NOT u.disabled AND u.role = 'site_console'
          LEFT JOIN alert_recipients r ON r.alert_id = x.alert_id AND r.site_id = u.site_id
         WHERE x.kind IS NULL OR x.kind NOT IN ('ack', 'read') OR u.id IS NULL
            OR r.alert_id IS NULL)
       OR (SELECT count(DISTINCT j) FROM unnest(p_jids) AS j) <> n
       OR EXISTS (SELECT 1 FROM unnest(p_jids) AS j
                    JOIN journal_applied a ON a.jid = j) THEN
        RETURN NULL;
    END IF;

    -- the first item of each (kind, alert, site) is kept when the site has
    -- no record of that kind yet; every item is audited, in order
    WITH items AS MATERIALIZED (
        SELECT x.idx::integer AS idx, x.kind, u.id AS user_id, u.username, u.role, u.org_id,
               u.site_id, x.alert_id, x.remote, COALESCE(x.at, clock_timestamp()) AS at
          FROM unnest(p_kinds, p_users, p_alerts, p_remotes, p_at)
               WITH ORDINALITY AS x(kind, user_id, alert_id, remote, at, idx)
          JOIN users u ON u.id = x.user_id),
    firsts AS (
        SELECT DISTINCT ON (kind, alert_id, site_id) *
          FROM items ORDER BY kind, alert_id, site_id, idx),
    applied AS (
        INSERT INTO journal_applied (jid, kind, outcome)
        SELECT j, k, 'direct' FROM unnest(p_jids, p_kinds) AS x(j, k)
        RETURNING 1),
    new_acks AS (
        INSERT INTO acks (alert_id, site_id, user_id, acked_at)
        SELECT alert_id, site_id, user_id, at FROM firsts WHERE kind = 'ack' ORDER BY idx
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    new_reads AS (
        INSERT INTO reads (alert_id, site_id, user_id, read_at)
        SELECT alert_id, site_id, user_id, at FROM firsts WHERE kind = 'read' ORDER BY idx
        ON CONFLICT DO NOTHING
        RETURNING alert_id, site_id),
    kept AS (
        SELECT f.idx FROM firsts f JOIN new_acks k USING (alert_id, site_id)
         WHERE f.kind = 'ack'
        UNION ALL
        SELECT f.idx FROM firsts f JOIN new_reads k USING (alert_id, site_id)
         WHERE f.kind = 'read'),
    marked AS (
        SELECT i.*, (i.idx IN (SELECT idx FROM kept)) AS first FROM items i),
    audited AS (
        INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role,
                           actor_org_id, alert_id, site_id, remote_addr, detail)
        SELECT m.at, m.kind, m.user_id, m.username, m.role, m.org_id, m.alert_id, m.site_id,
               m.remote, jsonb_build_object('first', m.first)
          FROM marked m ORDER BY m.idx
        RETURNING 1)
    SELECT array_agg(m.first ORDER BY m.idx) INTO v_first FROM marked m;

    -- a new statement sees the rows just written: the kept time of each
    -- site's record, and the tallies counted once per alert
    WITH t AS MATERIALIZED (  -- counted once per alert, not once per item
        SELECT * FROM alert_tallies
         WHERE alert_tallies.alert_id IN (SELECT DISTINCT a FROM unnest(p_alerts) AS a))
    SELECT array_agg(ROW(x.idx::integer, NULL, NULL, NULL, x.alert_id, u.site_id,
                         to_char(kept.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                         NOT v_first[x.idx], t.sender_org_id, t.recipients, t.delivered,
                         t.acknowledged, t.read, t.escalated,
                         t.watcher_org_id)::tocsin_receipt_row ORDER BY x.idx)
      INTO rows
      FROM unnest(p_kinds, p_users, p_alerts) WITH ORDINALITY AS x(kind, user_id, alert_id, idx)
      JOIN users u ON u.id = x.user_id
      CROSS JOIN LATERAL (
          SELECT k.acked_at AS at FROM acks k
           WHERE x.kind = 'ack' AND k.alert_id = x.alert_id AND k.site_id = u.site_id
          UNION ALL
          SELECT r.read_at FROM reads r
           WHERE x.kind = 'read' AND r.alert_id = x.alert_id AND r.site_id = u.site_id) kept
      JOIN t ON t.alert_id = x.alert_id;
    IF cardinality(rows) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'receipt batch: % rows for % items', cardinality(rows), n;
    END IF;
    RETURN rows;
END
$$;

ALTER TABLE status_reports
    DROP CONSTRAINT IF EXISTS status_reports_site_id_fkey,
    DROP CONSTRAINT IF EXISTS status_reports_user_id_fkey;
ALTER TABLE status_latest
    DROP CONSTRAINT IF EXISTS status_latest_report_id_fkey;

CREATE OR REPLACE FUNCTION tocsin_status_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$$;
