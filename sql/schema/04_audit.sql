-- 04_audit.sql: the append-only, tamper-evident audit trail (docs/audit.md).
--
-- Every operation on personal data writes an audit row in the transaction
-- that does it: action, actor, time, alert, site, detail. The functions
-- that name each row's DPA 2018 s.62 category and export the trail are in
-- sql/functions/audit.sql.
--
-- Every audit row is sealed, in id order, by a keyed BLAKE2b hash that
-- chains it to the row before: seal_i = BLAKE2b_key(seal_{i-1} || canonical(row_i)).
-- The broker computes the seals (libsodium; the key never enters the
-- database) a few seconds after the rows commit; `tocsinctl audit verify`
-- recomputes the chain and names the first row edited, deleted or inserted
-- behind the broker's back. Seals are append-only like the rows.

-- The audit trail. No foreign keys: a row must outlive what it names.
CREATE TABLE audit (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    action          text NOT NULL,
    actor_user_id   integer,
    actor_username  text,
    actor_role      text,
    actor_org_id    integer,
    alert_id        bigint,
    site_id         integer,
    remote_addr     text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_alert_idx ON audit (alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX audit_at_idx ON audit (at);

-- Audit details compressed with LZ4 instead of PostgreSQL's own pglz
-- (issue 6). A 'deliver' row lists the sites and users of its batch, a
-- 'publish' row the recipient sites, a 'disclose' row the sites again: at
-- 1,000 sites their jsonb is 5-12 kB, over the 2 kB at which PostgreSQL
-- compresses a value before it stores it out of line. A profile of
-- PostgreSQL during the bench's 20 alerts a second (`perf record -a`) had
-- pglz_compress as its largest function, 12 % of PostgreSQL's CPU with
-- pglz_decompress (the sealer reads each row back), on the two cores the
-- broker shares with it. The 952 audit rows of that run inserted again
-- into a scratch table took 1.19-1.27 s with pglz and 0.18 s with LZ4
-- (0.19 s uncompressed; the rest is parsing the jsonb), and LZ4 stored
-- them in 15.3 MB against pglz's 17.9 MB.
--
-- Nothing reads the stored bytes: the seal covers detail::text
-- (tocsin_audit_canonical), the same whatever the compression, and
-- PostgreSQL reads rows stored with either. Debian's PostgreSQL is built
-- with LZ4; a server built without it keeps pglz, with a notice, rather
-- than failing.
DO $$
BEGIN
    ALTER TABLE audit ALTER COLUMN detail SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4 (%); audit details stay pglz', SQLERRM;
END
$$;

-- Audit rows are never changed: only the migration role (or a superuser,
-- who can do anything anyway) may update or delete them
-- (audit_refuse_change, sql/functions/triggers.sql).
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The seal of each audit row (see above).
CREATE TABLE audit_seal (
    audit_id   bigint PRIMARY KEY,
    seal       bytea NOT NULL CHECK (length(seal) = 32),
    sealed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER audit_seal_no_update BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

GRANT SELECT, INSERT ON audit, audit_seal TO tocsin_broker;
GRANT USAGE ON SEQUENCE audit_id_seq TO tocsin_broker, tocsin_admin;
