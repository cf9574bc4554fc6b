-- 024_hello_resume_batch.sql: hello's revocation check and the resume
-- backlog for many sessions in one query.
--
-- Under a reconnect storm thousands of consoles send hello and resume
-- within a second. The broker collects those arriving within a couple of
-- milliseconds (broker/batch_queue.c) and asks once for all of them: one
-- statement, one plan and one result instead of one each. Both functions
-- only call the single-session functions once per element, so the rules
-- (what is revoked, which alerts a console or company may have) stay in
-- one place: tocsin_token_check (011) and tocsin_resume (006).

-- tocsin_token_check_batch: tocsin_token_check for each (user, iat) pair,
-- one row per element, idx from 1 in the arrays' order.
CREATE FUNCTION tocsin_token_check_batch(p_users integer[], p_iats bigint[])
RETURNS TABLE (idx integer, status text)
LANGUAGE sql STABLE AS $$
    SELECT x.idx::integer, c.status
      FROM unnest(p_users, p_iats) WITH ORDINALITY AS x(user_id, iat, idx)
     CROSS JOIN LATERAL tocsin_token_check(x.user_id, x.iat) c
     ORDER BY x.idx;
$$;

-- tocsin_resume_batch: tocsin_resume for each requested session (role,
-- site, org, position, clearance; idx from 1 in the arrays' order), with
-- the stream's head on every row. A session with nothing to resume gets
-- one row whose id, seq and alert are NULL. Rows come by idx, then seq.
-- An alert many sessions get is built once: alert is set on its first
-- row only (lowest idx) and NULL on the others, which repeat id and seq.
CREATE FUNCTION tocsin_resume_batch(p_roles text[], p_sites integer[], p_orgs integer[],
                                    p_after bigint[], p_cleared boolean[], p_limit integer)
RETURNS TABLE (idx integer, head bigint, id bigint, seq bigint, alert json)
LANGUAGE sql STABLE AS $$
    WITH req AS (
        SELECT x.role, x.site_id, x.org_id, x.after, x.cleared, x.idx::integer AS idx
          FROM unnest(p_roles, p_sites, p_orgs, p_after, p_cleared)
               WITH ORDINALITY AS x(role, site_id, org_id, after, cleared, idx)),
    -- One branch per role with the role as a constant: tocsin_resume is
    -- inlined, its recipient test then folds to the one that applies (a
    -- console's is an index lookup of (site, alert)), instead of testing
    -- both for every recipient of every alert.
    got AS MATERIALIZED (
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume('site_console', q.site_id, q.org_id, q.after,
                                          p_limit, q.cleared) r ON true
         WHERE q.role = 'site_console'
        UNION ALL
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume('company_operator', q.site_id, q.org_id, q.after,
                                          p_limit, q.cleared) r ON true
         WHERE q.role = 'company_operator'
        UNION ALL
        SELECT q.idx, r.id, r.seq
          FROM req q
          LEFT JOIN LATERAL tocsin_resume(q.role, q.site_id, q.org_id, q.after, p_limit,
                                          q.cleared) r ON true
         WHERE q.role IS DISTINCT FROM 'site_console'
           AND q.role IS DISTINCT FROM 'company_operator'),
    firsts AS (
        SELECT g.id, min(g.idx) AS idx FROM got g WHERE g.id IS NOT NULL GROUP BY g.id)
    SELECT g.idx, m.head, g.id, g.seq,
           CASE WHEN f.id IS NOT NULL THEN tocsin_alert_json(g.id) END
      FROM got g
     CROSS JOIN stream_meta m
      LEFT JOIN firsts f ON f.id = g.id AND f.idx = g.idx
     ORDER BY g.idx, g.seq;
$$;

GRANT EXECUTE ON FUNCTION tocsin_token_check_batch(integer[], bigint[]),
                          tocsin_resume_batch(text[], integer[], integer[], bigint[],
                                              boolean[], integer)
    TO tocsin_broker;
