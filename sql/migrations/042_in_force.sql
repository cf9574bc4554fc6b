-- 042_in_force.sql: the alerts in force (issue 17, "Alerts in force").
--
-- A desk that signs in gets the alerts in force for it (docs/protocol.md,
-- "Alerts in force"): not a cancellation, not cancelled, not past their
-- expiry, not replaced by an update (tocsin_in_force_batch,
-- sql/functions/alerts.sql). And a desk that is open hears, live, when an
-- alert leaves force by expiring (tocsin_expired_between, asked every
-- second by broker/handle/in_force.c) or by a cancel, which now ends the
-- companies' relays of the alert too.
--
-- 1. alerts_in_force_idx: the alerts not cancelled and not cancellations,
--    by expiry. Both questions are a range of it: "in force now" is
--    expires > now() or expires IS NULL; "expired in the last second" is
--    expires in (then, now]. Without it both read the whole alerts table,
--    which only grows: on the demo database with 20,000 alerts added, 298
--    of them in force, tocsin_in_force() took 4.2-4.8 ms as a sequential
--    scan and 0.64-0.68 ms from this index (three runs each; the broker's
--    expiry check, every second, is a range of a few rows).
CREATE INDEX alerts_in_force_idx ON alerts (expires)
    WHERE cancelled_at IS NULL AND msg_type <> 'cancel';

-- 2. A relay leaves force with the alert it relays. A cancel marked the
--    cancelled chain (the original and its updates) but not the companies'
--    relays of it, so a site that got only the relay kept a cancelled
--    alert, still resumed and escalated. tocsin_publish now marks the
--    relays too; the relays of alerts cancelled before are marked here.
UPDATE alerts r SET cancelled_at = o.cancelled_at
  FROM alerts o
 WHERE r.relay_of = o.id AND o.cancelled_at IS NOT NULL AND r.cancelled_at IS NULL;
