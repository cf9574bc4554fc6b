-- 044_audit_detail_erasure.sql: audit details may be erased after their
-- retention (retention-audit-detail-days, issue 19) while the seal chain
-- still verifies.
--
-- A seal covers the row's canonical text (tocsin_audit_canonical), which
-- held the detail itself: erasing a detail would break the chain at that
-- row for ever. From the first id after this migration the canonical text
-- holds the SHA-256 of the detail instead (audit_digest_from.from_id), and
-- erasing a detail keeps that digest in detail_sha256, so the seal still
-- matches and an edit of any other column, of the digest, or of the
-- erased detail is still caught. Rows before from_id keep their seals as
-- they are and their details are never erased (the sweep skips them).
-- The digest costs the sealer one sha256() per row (not yet measured in
-- make bench).
--
-- Stop the broker (or let it run degraded) while this runs: a row sealed
-- concurrently, by the old text, above from_id would not verify.

ALTER TABLE audit ADD COLUMN detail_sha256 text
    CHECK (detail_sha256 ~ '^[0-9a-f]{64}$');

CREATE TABLE audit_digest_from (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    from_id  bigint NOT NULL
);
INSERT INTO audit_digest_from (from_id)
SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM audit_id_seq;
GRANT SELECT ON audit_digest_from TO tocsin_broker, tocsin_admin;
