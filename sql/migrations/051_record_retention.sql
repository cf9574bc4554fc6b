-- 051_record_retention.sql: alerts, delivery records, partner reports and
-- status history erased after their retention (issue 19, part 7; the
-- sweep is broker/handle/retention.c, the functions
-- sql/functions/retention.sql).
--
-- 1. delivery_batch_digests: a deliver audit row's seal covers the SHA-256
--    of its batch's canonical bytes (tocsin_audit_canonical), read from
--    delivery_batches when it is sealed and again when it is verified.
--    Erasing the batch would turn that digest into 'missing' and break the
--    chain at every deliver row for ever. The erasure first stores the
--    batch's digest here, and the canonical text takes it from here once
--    the batch is gone, so tocsinctl audit verify still finds the chain
--    intact, and a batch deleted behind the broker's back (no digest here)
--    is still caught. Append-only like the batches (audit_refuse_change):
--    only the retention function (SECURITY DEFINER, owned by the migration
--    role) writes it.
CREATE TABLE delivery_batch_digests (
    batch_id   bigint PRIMARY KEY,
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    erased_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER delivery_batch_digests_no_update BEFORE UPDATE OR DELETE ON delivery_batch_digests
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER delivery_batch_digests_no_truncate BEFORE TRUNCATE ON delivery_batch_digests
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
GRANT SELECT ON delivery_batch_digests TO tocsin_broker, tocsin_admin;

-- 2. The sweep asks for the oldest rows before a cut-off, a batch at a
--    time. Without an index on the time, a table with fewer due rows than
--    the batch is read to its end on every sweep (status_reports: a report
--    per site every few minutes, millions a year), so each kind gets one:
--    the alerts that start a thread (an original, not an update, cancel or
--    relay: the sweep erases a thread whole, from its first alert), the
--    batches, the reports. Each costs an insert one more index entry.
CREATE INDEX alerts_thread_sent_idx ON alerts (sent_at)
    WHERE references_id IS NULL AND relay_of IS NULL;
CREATE INDEX delivery_batches_first_at_idx ON delivery_batches (first_at);
CREATE INDEX status_reports_reported_idx ON status_reports (reported_at);

-- 3. Erasing a row checks the keys that point at it: without an index on
--    the referring column each check reads the whole referring table.
--    partner_reports.alert_id (an alert made from a report) and
--    report_request_sites.report_id (the report that answered a request)
--    had none.
CREATE INDEX partner_reports_alert_idx ON partner_reports (alert_id)
    WHERE alert_id IS NOT NULL;
CREATE INDEX report_request_sites_report_idx ON report_request_sites (report_id)
    WHERE report_id IS NOT NULL;
