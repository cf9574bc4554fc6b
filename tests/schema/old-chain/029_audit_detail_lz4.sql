-- 029_audit_detail_lz4.sql: audit details compressed with LZ4 instead of
-- PostgreSQL's own pglz (issue 6).
--
-- A 'deliver' row lists the sites and users of its batch, a 'publish' row
-- the recipient sites, a 'disclose' row the sites again: at 1,000 sites
-- their jsonb is 5-12 kB, over the 2 kB at which PostgreSQL compresses a
-- value before it stores it out of line. A profile of PostgreSQL during the
-- bench's 20 alerts a second (`perf record -a`) had pglz_compress as its
-- largest function, 12 % of PostgreSQL's CPU with pglz_decompress (the
-- sealer reads each row back), on the two cores the broker shares with it.
-- The 952 audit rows of that run inserted again into a scratch table took
-- 1.19-1.27 s with pglz and 0.18 s with LZ4 (0.19 s uncompressed; the rest
-- is parsing the jsonb), and LZ4 stored them in 15.3 MB against pglz's
-- 17.9 MB.
--
-- Rows already written keep pglz; PostgreSQL reads both. Nothing reads the
-- stored bytes: the seal covers detail::text (tocsin_audit_canonical), the
-- same whatever the compression. Debian's PostgreSQL is built with LZ4; a
-- server built without it keeps pglz, with a notice, rather than failing
-- the migration.
DO $$
BEGIN
    ALTER TABLE audit ALTER COLUMN detail SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4 (%); audit details stay pglz', SQLERRM;
END
$$;
