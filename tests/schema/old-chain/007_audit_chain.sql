-- 007_audit_chain.sql: a tamper-evident audit trail.
--
-- Every audit row is sealed, in id order, by a keyed BLAKE2b hash that
-- chains it to the row before: seal_i = BLAKE2b_key(seal_{i-1} || canonical(row_i)).
-- The broker computes the seals (libsodium; the key never enters the
-- database) a few seconds after the rows commit; `tocsinctl audit verify`
-- recomputes the chain and names the first row edited, deleted or inserted
-- behind the broker's back. Seals are append-only like the rows.

CREATE TABLE audit_seal (
    audit_id   bigint PRIMARY KEY,
    seal       bytea NOT NULL CHECK (length(seal) = 32),
    sealed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER audit_seal_no_update BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The exact bytes a seal covers: every column, in a fixed order and
-- format (jsonb's text form is canonical: keys sorted, no duplicates).
CREATE FUNCTION tocsin_audit_canonical(a audit)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(E'\x1f',
        a.id::text,
        to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        a.action,
        COALESCE(a.actor_user_id::text, ''),
        COALESCE(a.actor_username, ''),
        COALESCE(a.actor_role, ''),
        COALESCE(a.actor_org_id::text, ''),
        COALESCE(a.alert_id::text, ''),
        COALESCE(a.site_id::text, ''),
        COALESCE(a.remote_addr, ''),
        a.detail::text);
$$;

-- The next rows to seal: after the last sealed one, committed a few
-- seconds ago at least (a transaction that takes an id and commits late
-- must not be skipped), with the last seal to chain from.
CREATE FUNCTION tocsin_audit_unsealed(p_limit integer)
RETURNS TABLE (audit_id bigint, canonical text, prev_seal bytea)
LANGUAGE sql STABLE AS $$
    WITH last AS (SELECT s.audit_id, s.seal FROM audit_seal s ORDER BY s.audit_id DESC LIMIT 1)
    SELECT a.id, tocsin_audit_canonical(a), (SELECT seal FROM last)
      FROM audit a
     WHERE a.id > COALESCE((SELECT audit_id FROM last), 0)
       AND a.at < clock_timestamp() - interval '3 seconds'
     ORDER BY a.id
     LIMIT p_limit;
$$;

-- Stores seals computed by the broker; a seal already present (another
-- broker sealed the same rows with the same key) is kept.
CREATE FUNCTION tocsin_audit_seal(p_ids bigint[], p_seals bytea[])
RETURNS integer
LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO audit_seal (audit_id, seal)
        SELECT * FROM unnest(p_ids, p_seals)
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM ins;
$$;

GRANT SELECT, INSERT ON audit_seal TO tocsin_broker;
GRANT EXECUTE ON FUNCTION tocsin_audit_canonical(audit), tocsin_audit_unsealed(integer),
                          tocsin_audit_seal(bigint[], bytea[])
    TO tocsin_broker;
