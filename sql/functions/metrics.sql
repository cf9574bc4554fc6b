-- metrics.sql: what the broker's /metrics asks the database
-- (broker/handle/metrics_probe.c, every 15 seconds).

-- Live severe and extreme alerts that some recipient site has not
-- acknowledged: not cancelled, not expired, sent within the day (as
-- tocsin_escalate looks at them, sql/functions/alerts.sql).
CREATE OR REPLACE FUNCTION tocsin_metrics_unacked_severe()
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*)
      FROM alerts a
     WHERE a.severity IN ('severe', 'extreme')
       AND a.msg_type <> 'cancel' AND a.cancelled_at IS NULL
       AND (a.expires IS NULL OR a.expires > now())
       AND a.sent_at > now() - interval '1 day'
       AND EXISTS (SELECT 1 FROM alert_recipients r
                    WHERE r.alert_id = a.id
                      AND NOT EXISTS (SELECT 1 FROM acks k
                                       WHERE k.alert_id = r.alert_id AND k.site_id = r.site_id));
$$;

GRANT EXECUTE ON FUNCTION tocsin_metrics_unacked_severe() TO tocsin_broker;
