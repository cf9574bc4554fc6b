-- retention.sql: erasing what is past its retention (issue 19, part 7),
-- called by the broker's sweep (broker/handle/retention.c) with the
-- settings' ages. Each erasure is audited, without what was erased.

-- tocsin_retention_audit_detail: erases the details of up to p_limit
-- sealed audit rows written before p_before, keeping each detail's
-- SHA-256 (detail_sha256), which the seal covers
-- (tocsin_audit_canonical_detail in audit.sql), so tocsinctl audit verify
-- still finds the chain intact. Only rows from audit_digest_from.from_id
-- (sealed over the digest) and only sealed ones; a deliver row keeps the
-- batch it names. Audits the erasure as one audit_detail_erased row (how
-- many, the first and last id, the cut-off), and returns how many.
-- SECURITY DEFINER: the owner may update audit rows (audit_refuse_change
-- lets tocsin_migrator's members and superusers); the broker may not.
CREATE OR REPLACE FUNCTION tocsin_retention_audit_detail(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_n integer;
    v_first bigint;
    v_last bigint;
BEGIN
    WITH due AS (
        SELECT a.id
          FROM audit a
         WHERE a.id >= (SELECT f.from_id FROM audit_digest_from f)
           AND a.id <= (SELECT COALESCE(max(s.audit_id), 0) FROM audit_seal s)
           AND a.detail_sha256 IS NULL
           AND a.at < p_before
         ORDER BY a.id
         LIMIT p_limit
         FOR UPDATE),
    done AS (
        UPDATE audit a
           SET detail_sha256 = encode(sha256(convert_to(a.detail::text, 'UTF8')), 'hex'),
               detail = tocsin_audit_erased_detail(a.detail)
          FROM due
         WHERE a.id = due.id
        RETURNING a.id)
    SELECT count(*)::integer, min(d.id), max(d.id) INTO v_n, v_first, v_last FROM done d;
    IF v_n > 0 THEN
        PERFORM tocsin_retention_record('audit_detail_erased', p_before,
            jsonb_build_object('rows', v_n, 'first_id', v_first, 'last_id', v_last));
    END IF;
    RETURN v_n;
END;
$$;
REVOKE EXECUTE ON FUNCTION tocsin_retention_audit_detail(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_retention_audit_detail(timestamptz, integer) TO tocsin_broker;

-- The audit row of one erasure: its action (an *_erased action, so
-- tocsin_audit_category files it under erasure), who (the sweep), and what
-- was erased by id and count, with the cut-off; never what the rows held
-- (the ICO: metadata only).
CREATE OR REPLACE FUNCTION tocsin_retention_record(p_action text, p_before timestamptz,
                                                   p_detail jsonb)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_username, detail)
    VALUES (p_action, 'tocsind retention',
            p_detail || jsonb_build_object('before', to_char(p_before AT TIME ZONE 'UTC',
                                                             'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
$$;

-- Erases delivery batches (ids in p_ids), first keeping each one's digest
-- in delivery_batch_digests (051_record_retention): the seal of its
-- deliver audit row covers that digest (tocsin_audit_canonical), which
-- then comes from there, so tocsinctl audit verify stays intact. Returns
-- how many batches it erased. Runs inside the callers below (owner's
-- rights: delivery_batches refuses deletes to anyone else).
CREATE OR REPLACE FUNCTION tocsin_retention_erase_batches(p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    INSERT INTO delivery_batch_digests (batch_id, sha256)
    SELECT b.id, encode(sha256(tocsin_delivery_batch_canonical(b)), 'hex')
      FROM delivery_batches b
     WHERE b.id = ANY (p_ids)
    ON CONFLICT DO NOTHING;
    DELETE FROM delivery_batches b WHERE b.id = ANY (p_ids);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;

-- tocsin_retention_deliveries: erases up to p_limit delivery batches
-- first written before p_before (oldest first, delivery_batches_first_at_idx),
-- and the first delivery of their alerts to each site from before then
-- (delivered_sites), the record of who received what and when. A batch
-- holds up to 16,000 deliveries (about 450 kB) whose digest is computed
-- first: 50 such batches took 50-125 ms (2 shared cores under a test
-- run), so the broker asks for 50 at a time. Audited as one
-- deliveries_erased row (how many, the batches' first and last id, the
-- alerts they were of). Returns how many batches.
CREATE OR REPLACE FUNCTION tocsin_retention_deliveries(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
    v_alerts bigint[];
    v_n integer;
BEGIN
    SELECT array_agg(d.id ORDER BY d.id), array_agg(DISTINCT d.alert_id)
      INTO v_ids, v_alerts
      FROM (SELECT b.id, b.alert_id FROM delivery_batches b
             WHERE b.first_at < p_before
             ORDER BY b.first_at, b.id
             LIMIT p_limit) d;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    v_n := tocsin_retention_erase_batches(v_ids);
    DELETE FROM delivered_sites s WHERE s.alert_id = ANY (v_alerts) AND s.first_at < p_before;
    PERFORM tocsin_retention_record('deliveries_erased', p_before,
        jsonb_build_object('batches', v_n, 'first_id', v_ids[1],
                           'last_id', v_ids[cardinality(v_ids)], 'alerts', to_jsonb(v_alerts)));
    RETURN v_n;
END
$$;

-- tocsin_retention_alerts: erases alerts sent before p_before, a thread
-- at a time: an original alert with its updates, cancels and relays (and
-- theirs), all or nothing, so that no update outlives what it replaces
-- (which would put the original back in force) and no key is left
-- pointing at nothing. A thread is erased only when every alert in it was
-- sent before p_before and none is in force (tocsin_in_force, the one
-- rule): an alert in force is never erased, however old. With each alert
-- go what hangs on it: its recipients, deliveries (digests kept, as in
-- tocsin_retention_deliveries), acknowledgements, reads, answers,
-- escalations and images' links; a partner report it was made from loses
-- the link, not the report. Release decisions (pending_releases, whose rec
-- holds the alert) made before p_before go too.
--
-- Oldest threads first (alerts_thread_sent_idx), up to 20, as many as fit
-- in p_limit recipient rows (at least one thread). The recipients are the
-- cost: each one erased makes PostgreSQL check the four keys that point
-- at alert_recipients (acks, reads, answers, escalations), one query per
-- row and key. On a copy of the demo database with 200 alerts to 1,034
-- sites each (a recipient, acknowledgement, read, first delivery and a
-- delivery batch per site; 2 shared cores under a test run; jit off, as
-- for the broker's role), one such alert took 115-240 ms, and the four
-- keys' checks of 2,068 recipient rows 550 ms of trigger time (EXPLAIN
-- ANALYZE). The broker passes 1,000 (retention.c).
-- Audited as one alerts_erased row with the alerts' ids. Returns how many
-- alerts.
CREATE OR REPLACE FUNCTION tocsin_retention_alerts(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_live bigint[] := ARRAY(SELECT f.id FROM tocsin_in_force() f);
    v_ids bigint[];
    v_batches integer;
    v_releases integer;
BEGIN
    WITH RECURSIVE due AS (
        SELECT r.id, r.sent_at FROM alerts r
         WHERE r.references_id IS NULL AND r.relay_of IS NULL AND r.sent_at < p_before
           -- first the cheap test: an original in force itself (one with no
           -- expiry stays so until cancelled, and is met on every call)
           AND NOT (r.id = ANY (v_live))
           AND NOT EXISTS (
               WITH RECURSIVE thread(id) AS (
                   SELECT r.id
                   UNION
                   SELECT c.id FROM alerts c JOIN thread t
                       ON c.references_id = t.id OR c.relay_of = t.id)
               SELECT 1 FROM thread t JOIN alerts m ON m.id = t.id
                WHERE m.sent_at >= p_before OR m.id = ANY (v_live))
         ORDER BY r.sent_at, r.id
         LIMIT 20),
    thread(root, id) AS (
        SELECT d.id, d.id FROM due d
        UNION
        SELECT t.root, c.id FROM alerts c JOIN thread t
            ON c.references_id = t.id OR c.relay_of = t.id),
    sized AS (
        SELECT t.root, sum(GREATEST((SELECT count(*) FROM (SELECT 1 FROM alert_recipients x
                                                         WHERE x.alert_id = t.id
                                                         LIMIT p_limit) x), 1)) AS n
          FROM thread t GROUP BY t.root),
    taken AS (
        SELECT s.root
          FROM (SELECT s.root, sum(s.n) OVER (ORDER BY d.sent_at, d.id) - s.n AS before_it
                  FROM sized s JOIN due d ON d.id = s.root) s
         WHERE s.before_it < p_limit)
    SELECT array_agg(t.id ORDER BY t.id) INTO v_ids
      FROM thread t WHERE t.root IN (SELECT k.root FROM taken k);

    DELETE FROM pending_releases p
     WHERE p.alert_id = ANY (COALESCE(v_ids, '{}'))
        OR (p.state <> 'pending' AND p.decided_at < p_before);
    GET DIAGNOSTICS v_releases = ROW_COUNT;
    IF v_ids IS NULL THEN
        IF v_releases > 0 THEN
            PERFORM tocsin_retention_record('alerts_erased', p_before,
                jsonb_build_object('rows', 0, 'alerts', '[]'::jsonb, 'releases', v_releases));
        END IF;
        RETURN 0;
    END IF;
    v_batches := tocsin_retention_erase_batches(
        ARRAY(SELECT b.id FROM delivery_batches b WHERE b.alert_id = ANY (v_ids)));
    DELETE FROM delivered_sites s WHERE s.alert_id = ANY (v_ids);
    DELETE FROM acks x WHERE x.alert_id = ANY (v_ids);
    DELETE FROM reads x WHERE x.alert_id = ANY (v_ids);
    DELETE FROM answers x WHERE x.alert_id = ANY (v_ids);
    DELETE FROM escalations x WHERE x.alert_id = ANY (v_ids);
    DELETE FROM alert_recipients x WHERE x.alert_id = ANY (v_ids);
    DELETE FROM alert_images x WHERE x.alert_id = ANY (v_ids);
    -- the signature holds the signed text: it goes with the alert (048)
    DELETE FROM alert_signatures x WHERE x.alert_id = ANY (v_ids);
    UPDATE partner_reports p SET alert_id = NULL WHERE p.alert_id = ANY (v_ids);
    DELETE FROM alerts a WHERE a.id = ANY (v_ids);
    PERFORM tocsin_retention_record('alerts_erased', p_before,
        jsonb_build_object('rows', cardinality(v_ids), 'alerts', to_jsonb(v_ids),
                           'batches', v_batches, 'releases', v_releases));
    RETURN cardinality(v_ids);
END
$$;

-- tocsin_retention_partner_reports: erases up to p_limit partner reports
-- received before p_before, oldest first (partner_reports_received_idx);
-- their images expire on their own (images.sql). Audited as one
-- partner_reports_erased row with the reports' ids. Returns how many.
CREATE OR REPLACE FUNCTION tocsin_retention_partner_reports(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    WITH gone AS (
        DELETE FROM partner_reports p
         WHERE p.id IN (SELECT r.id FROM partner_reports r
                         WHERE r.received_at < p_before
                         ORDER BY r.received_at, r.id
                         LIMIT p_limit)
        RETURNING p.id)
    SELECT array_agg(g.id ORDER BY g.id) INTO v_ids FROM gone g;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM tocsin_retention_record('partner_reports_erased', p_before,
        jsonb_build_object('rows', cardinality(v_ids), 'reports', to_jsonb(v_ids)));
    RETURN cardinality(v_ids);
END
$$;

-- tocsin_retention_status_reports: erases up to p_limit status reports
-- (the sites' history) made before p_before, oldest first
-- (status_reports_reported_idx), but never a site's latest, which is its
-- status now (status_latest). A request's answer that was one of them
-- (report_request_sites) goes with it; the request stays. Audited as one
-- status_reports_erased row with the reports' ids. Returns how many.
CREATE OR REPLACE FUNCTION tocsin_retention_status_reports(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    v_ids := ARRAY(
        SELECT s.id FROM status_reports s
         WHERE s.reported_at < p_before
           AND NOT EXISTS (SELECT 1 FROM status_latest l
                            WHERE l.site_id = s.site_id AND l.report_id = s.id)
         ORDER BY s.reported_at, s.id
         LIMIT p_limit);
    IF cardinality(v_ids) = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM report_request_sites q WHERE q.report_id = ANY (v_ids);
    DELETE FROM status_reports s WHERE s.id = ANY (v_ids);
    PERFORM tocsin_retention_record('status_reports_erased', p_before,
        jsonb_build_object('rows', cardinality(v_ids), 'reports', to_jsonb(v_ids)));
    RETURN cardinality(v_ids);
END
$$;

REVOKE EXECUTE ON FUNCTION
    tocsin_retention_record(text, timestamptz, jsonb),
    tocsin_retention_erase_batches(bigint[]),
    tocsin_retention_deliveries(timestamptz, integer),
    tocsin_retention_alerts(timestamptz, integer),
    tocsin_retention_partner_reports(timestamptz, integer),
    tocsin_retention_status_reports(timestamptz, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_retention_deliveries(timestamptz, integer),
    tocsin_retention_alerts(timestamptz, integer),
    tocsin_retention_partner_reports(timestamptz, integer),
    tocsin_retention_status_reports(timestamptz, integer)
    TO tocsin_broker;
