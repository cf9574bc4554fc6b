-- 010_exactly_once.sql: no duplicate audit rows when the connection drops
-- with a batch in flight.
--
-- The broker names every delivery batch and every acknowledgement and read
-- with a record id before it sends it. The direct write records that id in
-- journal_applied in the same transaction; if the connection drops before
-- the broker hears the outcome, it journals the same record under the same
-- id, and replay finds the id and skips what had in fact committed.

CREATE FUNCTION tocsin_record_deliveries_once(p_jid text, p_alerts bigint[], p_sites integer[],
                                              p_users integer[], p_at timestamptz[])
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

DROP FUNCTION tocsin_receipt_batch(text[], integer[], bigint[], text[], timestamptz[]);
CREATE FUNCTION tocsin_receipt_batch(p_jids text[], p_kinds text[], p_users integer[],
                                     p_alerts bigint[], p_remotes text[], p_at timestamptz[])
RETURNS TABLE (idx integer, err_state text, err_message text, err_field text, alert_id bigint,
               site_id integer, at text, already boolean, sender_org_id integer,
               recipients bigint, delivered bigint, acknowledged bigint, read bigint,
               escalated bigint, watcher_org_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    i  integer;
    r  record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        BEGIN
            INSERT INTO journal_applied (jid, kind, outcome)
            VALUES (p_jids[i], p_kinds[i], 'direct') ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'record % was already written', p_jids[i] USING ERRCODE = 'TS208';
            END IF;
            IF p_kinds[i] = 'ack' THEN
                SELECT * INTO r FROM tocsin_ack(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                at := to_char(r.acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            ELSE
                SELECT * INTO r FROM tocsin_read(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                at := to_char(r.read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            END IF;
            idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
            alert_id := r.alert_id; site_id := r.site_id;
            already := r.already; sender_org_id := r.sender_org_id;
            recipients := r.recipients; delivered := r.delivered;
            acknowledged := r.acknowledged; read := r.read; escalated := r.escalated;
            watcher_org_id := r.watcher_org_id;
            RETURN NEXT;
        EXCEPTION WHEN OTHERS THEN
            idx := i;
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_field = COLUMN_NAME;
            alert_id := p_alerts[i]; site_id := NULL; at := NULL; already := NULL;
            sender_org_id := NULL; recipients := NULL; delivered := NULL;
            acknowledged := NULL; read := NULL; escalated := NULL; watcher_org_id := NULL;
            RETURN NEXT;
        END;
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_record_deliveries_once(text, bigint[], integer[], integer[], timestamptz[]),
    tocsin_receipt_batch(text[], text[], integer[], bigint[], text[], timestamptz[])
    TO tocsin_broker;
