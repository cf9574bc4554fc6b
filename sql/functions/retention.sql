-- retention.sql: erasing what is past its retention (issue 19, part 7),
-- called by the broker's sweep (broker/handle/retention.c) with the
-- settings' ages. Each erasure is audited, without what was erased.

-- tocsin_retention_audit_detail: erases the details of up to p_limit
-- sealed audit rows written before p_before, keeping each detail's
-- SHA-256 (detail_sha256), which the seal covers
-- (tocsin_audit_canonical_detail in audit.sql), so tocsinctl audit verify
-- still finds the chain intact. Only rows from audit_digest_from.from_id
-- (sealed over the digest) and only sealed ones; a deliver row keeps the
-- batch it names. Audits the erasure as one audit_detail_erased row (how
-- many, the first and last id, the cut-off), and returns how many.
-- SECURITY DEFINER: the owner may update audit rows (audit_refuse_change
-- lets tocsin_migrator's members and superusers); the broker may not.
CREATE OR REPLACE FUNCTION tocsin_retention_audit_detail(p_before timestamptz, p_limit integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_n integer;
    v_first bigint;
    v_last bigint;
BEGIN
    WITH due AS (
        SELECT a.id
          FROM audit a
         WHERE a.id >= (SELECT f.from_id FROM audit_digest_from f)
           AND a.id <= (SELECT COALESCE(max(s.audit_id), 0) FROM audit_seal s)
           AND a.detail_sha256 IS NULL
           AND a.at < p_before
         ORDER BY a.id
         LIMIT p_limit
         FOR UPDATE),
    done AS (
        UPDATE audit a
           SET detail_sha256 = encode(sha256(convert_to(a.detail::text, 'UTF8')), 'hex'),
               detail = tocsin_audit_erased_detail(a.detail)
          FROM due
         WHERE a.id = due.id
        RETURNING a.id)
    SELECT count(*)::integer, min(d.id), max(d.id) INTO v_n, v_first, v_last FROM done d;
    IF v_n > 0 THEN
        INSERT INTO audit (action, actor_username, detail)
        VALUES ('audit_detail_erased', 'tocsind retention',
                jsonb_build_object('rows', v_n, 'first_id', v_first, 'last_id', v_last,
                                   'before', to_char(p_before AT TIME ZONE 'UTC',
                                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
    END IF;
    RETURN v_n;
END;
$$;
REVOKE EXECUTE ON FUNCTION tocsin_retention_audit_detail(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_retention_audit_detail(timestamptz, integer) TO tocsin_broker;
