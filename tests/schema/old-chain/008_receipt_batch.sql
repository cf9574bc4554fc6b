-- 008_receipt_batch.sql: acknowledgements and reads written in batches.
--
-- One transaction (one commit, one fsync) for every ack and read that
-- arrived within a few milliseconds, instead of one each: the broker
-- answers each console after the batch commits. Each item runs in its own
-- savepoint, so an item that is refused (not a recipient, unknown alert)
-- is answered with its error and never rolls back its neighbours.

CREATE FUNCTION tocsin_receipt_batch(p_kinds text[], p_users integer[], p_alerts bigint[],
                                     p_remotes text[], p_at timestamptz[])
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
            IF p_kinds[i] = 'ack' THEN
                SELECT * INTO r FROM tocsin_ack(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
                alert_id := r.alert_id; site_id := r.site_id;
                at := to_char(r.acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            ELSE
                SELECT * INTO r FROM tocsin_read(p_users[i], p_alerts[i], p_remotes[i], p_at[i]);
                idx := i; err_state := NULL; err_message := NULL; err_field := NULL;
                alert_id := r.alert_id; site_id := r.site_id;
                at := to_char(r.read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
            END IF;
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

GRANT EXECUTE ON FUNCTION tocsin_receipt_batch(text[], integer[], bigint[], text[], timestamptz[])
    TO tocsin_broker;
