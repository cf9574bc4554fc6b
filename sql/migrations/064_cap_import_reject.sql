-- 064_cap_import_reject.sql: a pending CAP import is rejected with a
-- reason (issue 18, item 1: "the controller picks the targets and
-- publishes, or rejects with a reason").
--
-- partner_reports.reject_reason: why a controller or analyst closed a
-- pending import (kind cap_import) without publishing it
-- (tocsin_cap_pending_reject, sql/functions/alerts.sql, from the
-- `import_reject` request). The inbox shows it on the closed item to every
-- desk, and the audit row report_updated (change 'rejected') holds it too:
-- the column is what the room reads, the audit what the auditor reads.
-- NULL for every other report and for an import that was published or is
-- still open; marking it open again (report_update) clears it. 1 to 500
-- characters, as the request checks.

ALTER TABLE partner_reports
    ADD COLUMN reject_reason text
        CHECK (reject_reason IS NULL OR length(reject_reason) BETWEEN 1 AND 500);

GRANT UPDATE (reject_reason) ON partner_reports TO tocsin_broker;
