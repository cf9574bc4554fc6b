-- delivery.sql: recording the alert frames handed to consoles and
-- operators (issue 6, "fast"; the tables and the investigator's queries
-- are in sql/schema/05_delivery.sql).
--
-- The broker records deliveries in batches (broker/delivery_log.c), each
-- alert's deliveries together (broker/delivery_group.c). Each batch becomes
-- one delivery_batches row per alert and one 'deliver' audit row per batch
-- row, by the broker itself (actor_role 'system', actor_username
-- 'tocsind', site_id NULL), whose detail names the batch and lists who got
-- it:
--   {"batch": ID, "count": N, "sites": [distinct sites], "users": [distinct users]}
-- The seal of that audit row covers the whole batch row:
-- tocsin_audit_canonical (sql/functions/audit.sql) appends the SHA-256 of
-- the batch's canonical bytes (tocsin_delivery_batch_canonical) to a
-- deliver row's, so editing, deleting or forging a batch row breaks the
-- chain at its deliver row and `tocsinctl audit verify` names it, with no
-- change to the sealer or to verify.
--
-- It was one delivery row, one 'deliver' audit row and one seal per
-- delivery: at 10,000 consoles and 20 alerts a second, 200,000 rows of each
-- a second on the two cores the broker also runs on, so delivery records
-- fell seconds behind and acknowledgements queued behind them.

-- tocsin_record_deliveries: the deliveries of the broker's batch (parallel
-- arrays; it may hold several alerts) as one batch row and one deliver
-- audit row per alert, the first delivery to each site (delivered_sites),
-- and the new tallies of the alerts concerned. The deliveries of the
-- broker's journal (a database outage) are replayed through it too, so
-- they are compacted the same way, once (journal_applied).
--
-- A batch whose alerts' deliveries are together is stored from array
-- slices, without sorting it (issue 6). Grouping the batch by alert with
-- three array_agg(... ORDER BY i) sorts every delivery of the batch (up to
-- 16,000) for each: pg_stat_statements during the bench's 20 alerts a
-- second put that batch insert at 31.6 ms of the function's 56 ms per
-- batch, the largest statement PostgreSQL ran. The broker sends each
-- alert's deliveries together, in the order they were made
-- (delivery_group.c). The function finds each alert's first and last
-- position in one pass; when every alert's deliveries are contiguous, a
-- batch row takes the slices p_sites[lo:hi], p_users[lo:hi] and
-- p_at[lo:hi] as they are. A batch of 15,000 deliveries of two alerts, in
-- a loop of 12 rolled-back calls on the bench's database: median 34.3 ms
-- sorted, 22.7 ms grouped; 36.9 ms interleaved (the pass that finds the
-- runs, then the sorting path).
--
-- The rows are the same either way: one batch row per alert, its arrays in
-- the order of the alert's deliveries in p_*, rows in the order of each
-- alert's first delivery, and the same deliver audit rows. Batches that are
-- not grouped (journaled by an older broker) take the sorting path.
--
-- p_detail is added to each deliver row's detail: {"confirmed": "resume"}
-- for the deliveries a resuming console's position proves
-- (tocsin_resume_confirm, below).
CREATE OR REPLACE FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[],
                                                    p_users integer[], p_at timestamptz[],
                                                    p_detail jsonb DEFAULT '{}'::jsonb)
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_alerts bigint[];
    v_lo     integer[];
    v_hi     integer[];
    v_runs   boolean;
BEGIN
    SELECT array_agg(r.alert_id ORDER BY r.lo), array_agg(r.lo ORDER BY r.lo),
           array_agg(r.hi ORDER BY r.lo), bool_and(r.n = r.hi - r.lo + 1)
      INTO v_alerts, v_lo, v_hi, v_runs
      FROM (SELECT a.alert_id, min(a.i)::integer AS lo, max(a.i)::integer AS hi, count(*) AS n
              FROM unnest(p_alerts) WITH ORDINALITY AS a(alert_id, i)
             GROUP BY a.alert_id) r;
    -- the batch rows from the slices (grouped) or sorted (not grouped);
    -- each half is empty unless it applies
    WITH d AS (
        SELECT * FROM unnest(p_alerts, p_sites, p_users, p_at) WITH ORDINALITY
                      AS d(alert_id, site_id, user_id, at, i)
         WHERE NOT v_runs
    ), batch_rows AS (
        SELECT r.alert_id, (SELECT min(t) FROM unnest(p_at[r.lo:r.hi]) AS t) AS first_at,
               r.hi - r.lo + 1 AS n, p_sites[r.lo:r.hi] AS site_ids,
               p_users[r.lo:r.hi] AS user_ids, p_at[r.lo:r.hi] AS delivered_at, r.lo AS ord
          FROM unnest(v_alerts, v_lo, v_hi) AS r(alert_id, lo, hi)
         WHERE v_runs
        UNION ALL
        SELECT d.alert_id, min(d.at), count(*), array_agg(d.site_id ORDER BY d.i),
               array_agg(d.user_id ORDER BY d.i), array_agg(d.at ORDER BY d.i), min(d.i)
          FROM d GROUP BY d.alert_id
    ), b AS (
        INSERT INTO delivery_batches (alert_id, first_at, n, site_ids, user_ids, delivered_at)
        SELECT batch_rows.alert_id, batch_rows.first_at, batch_rows.n, batch_rows.site_ids,
               batch_rows.user_ids, batch_rows.delivered_at
          FROM batch_rows ORDER BY batch_rows.ord
        RETURNING delivery_batches.id, delivery_batches.alert_id, delivery_batches.first_at,
                  delivery_batches.n, delivery_batches.site_ids, delivery_batches.user_ids
    )
    INSERT INTO audit (at, action, actor_username, actor_role, alert_id, detail)
    SELECT b.first_at, 'deliver', 'tocsind', 'system', b.alert_id,
           jsonb_build_object(
               'batch', b.id, 'count', b.n,
               'sites', COALESCE((SELECT jsonb_agg(DISTINCT s ORDER BY s)
                                    FROM unnest(b.site_ids) AS s WHERE s IS NOT NULL),
                                 '[]'::jsonb),
               'users', (SELECT jsonb_agg(DISTINCT u ORDER BY u) FROM unnest(b.user_ids) AS u))
           || p_detail
      FROM b ORDER BY b.id;

    INSERT INTO delivered_sites (alert_id, site_id, first_at)
    SELECT d.alert_id, d.site_id, min(d.at)
      FROM unnest(p_alerts, p_sites, p_at) AS d(alert_id, site_id, at)
     WHERE d.site_id IS NOT NULL
     GROUP BY d.alert_id, d.site_id
    ON CONFLICT DO NOTHING;
    -- the other brokers' desks read the new tallies (sql/functions/nodes.sql)
    PERFORM tocsin_notify('tocsin_receipts', v_alerts::text[]);

    RETURN QUERY
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged, t.read,
           t.escalated, t.watcher_org_id
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
END
$$;

-- tocsin_record_deliveries_once: tocsin_record_deliveries under the
-- batch's record id, once: no duplicate records or audit rows when the
-- connection drops with a batch in flight. The broker names every delivery
-- batch (and every acknowledgement and read) with a record id before it
-- sends it. The direct write records that id in journal_applied in the
-- same transaction; if the connection drops before the broker hears the
-- outcome, it journals the same record under the same id, and replay
-- finds the id and skips what had in fact committed.
CREATE OR REPLACE FUNCTION tocsin_record_deliveries_once(p_jid text, p_alerts bigint[],
                                                         p_sites integer[], p_users integer[],
                                                         p_at timestamptz[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO journal_applied (jid, kind, outcome) VALUES (p_jid, 'deliveries', 'direct')
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN; -- already written
    END IF;
    RETURN QUERY SELECT * FROM tocsin_record_deliveries(p_alerts, p_sites, p_users, p_at);
END
$$;

-- tocsin_resume_confirm: the deliveries that resuming consoles prove they
-- had, recorded when the broker did not (issue 16, item 3). A delivery
-- waits a few milliseconds in the broker's memory before its batch is
-- stored (broker/io/delivery_log.c); a broker killed during a fan-out to
-- 200 consoles left 83 of the 1,085 frames they had received with no
-- record, and 14 (alert, site) pairs with none at all, so "did site X
-- receive alert Y" answered no for an alert the site had.
--
-- A console that resumes gives its position (p_after: the highest position
-- it processed) and where its unbroken run of positions began (p_since:
-- the stream's head when it last started afresh, docs/protocol.md). In
-- between it received, in order, every alert meant for it: live, or from
-- a backlog. So each alert of the console's site with a position in
-- (since, after] that tocsin_resume would send it (its role targeted,
-- cleared for OFFICIAL-SENSITIVE, not cancelled or expired) and that has no
-- delivery at the site (delivered_sites) is recorded now, as delivered to
-- the console's user at the time of the resume (the latest it can have
-- been), with {"confirmed": "resume"} in its deliver audit row. The
-- position alone would not do: a console that starts afresh takes the
-- head as its position without receiving what came before, and alerts sent
-- while no console of its site was connected would then be claimed as
-- delivered. The same alert already delivered to another console of the
-- site keeps that record alone: the question is the site's, and this stays
-- a read of the site's few newest alerts.
--
-- Cheap in a reconnect storm: each console reads its site's recipient
-- alerts newest first (alert_recipients_site_idx) only until the first
-- that has a delivery at the site or is at or before its since, one entry
-- and one probe when nothing was lost, and the alerts after that one only.
-- Probes are scalar subqueries, as in tocsin_resume: written as EXISTS
-- under an OR, the planner hashed every delivery of the site for each
-- console (3.3 ms a console on the database below). The alerts after the
-- stop are read per console behind fences (OFFSET 0, LIMIT 1): joined as a
-- whole, the plan made for the arrays' values (the first five calls of a
-- session) read every recipient row of every site (68,000 here, 60 ms;
-- millions on the bench's database). Measured on a copy of the test
-- database with 2,000 alerts to all 34 sites, JIT off as for the broker's
-- role: a batch of 510 consoles, nothing lost, 5-9 ms
-- (tocsin_resume_batch for the same 510, two alerts each: 6.1 ms); with
-- the last 5 alerts of every site unrecorded, 23-119 ms, recording the 170
-- deliveries included. It runs over the delivery records connection,
-- beside the backlog's read. Alerts are read by id (the broker gives ids
-- in time order); one that took its position out of that order (a
-- journaled alert written back) may be passed over, which leaves it
-- unrecorded as before and claims nothing.
-- Company operators' deliveries have no site and are not reconstructed:
-- "did site X receive it" is the sites' question, and an operator's record
-- could only be found by reading every batch of every alert it may have.
CREATE OR REPLACE FUNCTION tocsin_resume_confirm(p_users integer[], p_sites integer[],
                                                 p_since bigint[], p_after bigint[],
                                                 p_cleared boolean[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint, read bigint, escalated bigint,
               watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_alerts bigint[];
    v_sites  integer[];
    v_users  integer[];
BEGIN
    WITH req AS (
        SELECT DISTINCT x.user_id, x.site_id, x.since, x.after, x.cleared
          FROM unnest(p_users, p_sites, p_since, p_after, p_cleared)
               AS x(user_id, site_id, since, after, cleared)
         WHERE x.since < x.after
    ), walk AS MATERIALIZED (
        -- the newest of the site's alerts delivered there or at or before
        -- since: scalar probes, the delivery first (the usual stop)
        SELECT q.*,
               COALESCE((SELECT r.alert_id
                           FROM alert_recipients r
                          WHERE r.site_id = q.site_id
                            AND ((SELECT true FROM delivered_sites d
                                   WHERE d.alert_id = r.alert_id AND d.site_id = q.site_id)
                                 OR (SELECT a.seq FROM alerts a WHERE a.id = r.alert_id) <= q.since)
                          ORDER BY r.alert_id DESC
                          LIMIT 1), 0) AS stop
          FROM req q
    ), held AS (
        SELECT DISTINCT a.id, a.seq, q.site_id, q.user_id
          FROM walk q
          -- per console, its site's alerts after the stop, and a probe per
          -- alert: the fences (OFFSET 0, LIMIT 1) keep the planner from
          -- joining them as wholes (above)
          CROSS JOIN LATERAL (SELECT y.alert_id FROM alert_recipients y
                               WHERE y.site_id = q.site_id AND y.alert_id > q.stop OFFSET 0) r
          CROSS JOIN LATERAL (SELECT * FROM alerts x WHERE x.id = r.alert_id LIMIT 1) a
         WHERE a.seq > q.since AND a.seq <= q.after
           AND 'site_console' = ANY (a.target_roles)
           AND (a.classification <> 'OFFICIAL-SENSITIVE' OR q.cleared)
           AND a.cancelled_at IS NULL
           AND (a.expires IS NULL OR a.expires > now())
           AND (SELECT true FROM delivered_sites d
                 WHERE d.alert_id = a.id AND d.site_id = q.site_id) IS NULL
    )
    SELECT array_agg(h.id ORDER BY h.seq, h.site_id, h.user_id),
           array_agg(h.site_id ORDER BY h.seq, h.site_id, h.user_id),
           array_agg(h.user_id ORDER BY h.seq, h.site_id, h.user_id)
      INTO v_alerts, v_sites, v_users
      FROM held h;
    IF v_alerts IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT * FROM tocsin_record_deliveries(v_alerts, v_sites, v_users,
                                           array_fill(clock_timestamp(), ARRAY[cardinality(v_alerts)]),
                                           '{"confirmed": "resume"}'::jsonb);
END
$$;

-- How many deliveries are recorded, without unnesting every batch (the
-- bench polls it while delivery records drain: bench/loadgen.c).
CREATE OR REPLACE FUNCTION tocsin_delivery_count()
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(n), 0) FROM delivery_batches;
$$;

-- The exact bytes a deliver row's seal covers (through their SHA-256) for
-- its batch: every column, in a fixed order, in PostgreSQL's binary send
-- format (the wire protocol's, independent of session settings such as
-- TimeZone and DateStyle; NULL sites included). Binary rather than text:
-- formatting 16,000 times took 15.6 ms per batch, sending them 3.3 ms, and
-- the sealer reads every deliver row once.
CREATE OR REPLACE FUNCTION tocsin_delivery_batch_canonical(b delivery_batches)
RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT int8send(b.id) || int8send(b.alert_id) || timestamptz_send(b.first_at)
        || int4send(b.n) || array_send(b.site_ids) || array_send(b.user_ids)
        || array_send(b.delivered_at);
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[], jsonb),
    tocsin_resume_confirm(integer[], integer[], bigint[], bigint[], boolean[]),
    tocsin_record_deliveries_once(text, bigint[], integer[], integer[], timestamptz[]),
    tocsin_delivery_count(),
    tocsin_delivery_batch_canonical(delivery_batches)
    TO tocsin_broker;
