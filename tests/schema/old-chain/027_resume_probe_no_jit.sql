-- 027_resume_probe_no_jit.sql: a reconnect storm and an acknowledgement
-- burst no longer wait for PostgreSQL's JIT compiler (issue 6).
--
-- 1. No JIT for the broker's role. PostgreSQL compiles a query to machine
--    code (LLVM) when its estimated cost passes jit_above_cost. Once the
--    tables hold a few hundred thousand recipient rows, the estimates of
--    the batched resume (tocsin_resume_batch) and of the tallies in the
--    batched receipts (tocsin_receipt_batch_fast) pass all three JIT
--    thresholds, and compiling with inlining and optimisation took about
--    520 ms per query, for queries that run in 5 to 70 ms. `make bench`
--    with auto_explain showed it: each batch of 500 resumes took 560 to
--    740 ms during the storm (13.8 s for 10,000 consoles), and each
--    receipt batch of about 300 acknowledgements 300 to 480 ms. JIT pays
--    off only for long analytical queries; the broker runs none.
--    A role setting applies to every session the role opens from now on
--    (the broker connects as tocsin_broker), so it needs no broker code
--    and shows in `\drds`.
--
-- 2. A console's resume probes one primary key row per candidate alert.
--    tocsin_resume tested "this site is a recipient" and "a site of this
--    company is a recipient" in one EXISTS with a join to sites. In a
--    batch the planner then read every recipient row of the console's
--    site (413 after the bench's fan-out) for each session, and again for
--    the next one: 500 x 413 index entries per batch, most with a heap
--    visit while the rows were new. Now each role has its own test, and
--    the console's is a scalar probe of alert_recipients' primary key
--    (alert_id, site_id), which returns at most one row. It is written as
--    a scalar subquery rather than EXISTS on purpose: EXISTS under an OR
--    stays a subplan that the planner may turn into a hash of all the
--    site's recipients, built again for every session. On the bench's
--    database after a storm, 500 console resumes took 71 ms before and
--    5.6 ms after (jit off in both).

ALTER ROLE tocsin_broker SET jit = off;

CREATE OR REPLACE FUNCTION tocsin_resume(p_role text, p_site_id integer, p_org_id integer,
                                         p_after bigint, p_limit integer, p_cleared boolean)
RETURNS TABLE (id bigint, seq bigint, alert json)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.seq, tocsin_alert_json(a.id)
      FROM alerts a
     WHERE a.seq > p_after
       AND (a.expires IS NULL OR a.expires > now())
       AND a.cancelled_at IS NULL
       AND p_role = ANY (a.target_roles)
       AND (a.classification <> 'OFFICIAL-SENSITIVE' OR p_cleared)
       AND ((p_role = 'site_console'
             AND (SELECT true FROM alert_recipients r
                   WHERE r.alert_id = a.id AND r.site_id = p_site_id))
         OR (p_role = 'company_operator'
             AND EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                          WHERE r.alert_id = a.id AND s.guard_org_id = p_org_id)))
     ORDER BY a.seq
     LIMIT p_limit;
$$;
