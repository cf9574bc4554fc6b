-- 025_receipt_batch_fast.sql: acknowledgements and reads stored set-wise.
--
-- tocsin_receipt_batch (sql/010) stores each ack or read of a batch in its
-- own savepoint through tocsin_ack/tocsin_read, and each of those counts
-- the alert's tallies again (recipients, deliveries, acks, reads). With
-- 10,000 consoles acknowledging one alert that is 10,000 savepoints and
-- 10,000 counts over the same alert, and the bench audited about 1,200
-- acknowledgements a second (issue 6 asks for 10,000 within a second).
--
-- The common case now takes a set-based path: when every item of the batch
-- is a new record (its jid unseen) from an enabled site console whose site
-- received the alert, a handful of statements store the whole batch, with
-- exactly the rows the per-item path writes (journal_applied, acks or
-- reads keeping the first per site, one audit row per item with "first"),
-- and the tallies are counted once per alert. Within a batch the first
-- item of a site (by position) is the one kept, as the loop would keep it.
-- Anything else (an unknown alert, a refused user, a replayed jid), or any
-- error on the way, goes through the unchanged per-item function of sql/010
-- (renamed tocsin_receipt_batch_each), which answers each item with its own
-- error.

CREATE TYPE tocsin_receipt_row AS (
    idx integer, err_state text, err_message text, err_field text, alert_id bigint,
    site_id integer, at text, already boolean, sender_org_id integer, recipients bigint,
    delivered bigint, acknowledged bigint, read bigint, escalated bigint,
    watcher_org_id integer);

-- The set-based path: the batch's rows, or NULL when the batch does not
-- qualify (nothing is written then).
CREATE FUNCTION tocsin_receipt_batch_fast(p_jids text[], p_kinds text[], p_users integer[],
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
       OR EXISTS (SELECT 1 FROM journal_applied WHERE jid = ANY (p_jids)) THEN
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

-- tocsin_receipt_batch: the set-based path when the batch qualifies, else
-- the per-item path of sql/010, kept under the name tocsin_receipt_batch_each.
ALTER FUNCTION tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamptz[])
    RENAME TO tocsin_receipt_batch_each;

CREATE FUNCTION tocsin_receipt_batch(p_jids text[], p_kinds text[], p_users integer[],
                                     p_alerts bigint[], p_remotes text[], p_at timestamptz[])
RETURNS TABLE (idx integer, err_state text, err_message text, err_field text, alert_id bigint,
               site_id integer, at text, already boolean, sender_org_id integer,
               recipients bigint, delivered bigint, acknowledged bigint, read bigint,
               escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    fast  tocsin_receipt_row[];
BEGIN
    BEGIN
        fast := tocsin_receipt_batch_fast(p_jids, p_kinds, p_users, p_alerts, p_remotes, p_at);
    EXCEPTION WHEN OTHERS THEN
        fast := NULL; -- rolled back to here: the per-item path does it all
    END;
    IF fast IS NOT NULL THEN
        RETURN QUERY SELECT * FROM unnest(fast);
    ELSE
        RETURN QUERY SELECT * FROM tocsin_receipt_batch_each(p_jids, p_kinds, p_users, p_alerts,
                                                             p_remotes, p_at);
    END IF;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_receipt_batch_fast(text[], text[], integer[], bigint[], text[], timestamptz[]),
    tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamptz[])
    TO tocsin_broker;
