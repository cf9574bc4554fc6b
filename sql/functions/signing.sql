-- signing.sql: what the broker stores about alert signatures (issue 23;
-- docs/security.md, "Signed alerts"). The signing itself is the broker's
-- (broker/base/sign_key.c); the database keeps the reports of consoles
-- whose check failed.

-- A console could not verify an alert's signature: audited as
-- alert_unverified (reason: bad, unknown_key or unsigned), whoever sent
-- it. The alert need not exist (a forged one does not): alert_id is what
-- the frame said. Returns the alert id as text.
CREATE OR REPLACE FUNCTION tocsin_alert_unverified(p_alert_id bigint, p_user_id integer,
                                                   p_reason text, p_remote text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_reason NOT IN ('bad', 'unknown_key', 'unsigned') THEN
        RAISE EXCEPTION 'reason must be bad, unknown_key or unsigned' USING ERRCODE = 'TS422',
            COLUMN = 'reason';
    END IF;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    SELECT 'alert_unverified', u.id, u.username, u.role, u.org_id, p_alert_id, u.site_id,
           p_remote, jsonb_build_object('reason', p_reason,
                                        'known', EXISTS (SELECT 1 FROM alerts a
                                                          WHERE a.id = p_alert_id))
      FROM users u WHERE u.id = p_user_id;
    RETURN p_alert_id::text;
END
$$;

REVOKE EXECUTE ON FUNCTION tocsin_alert_unverified(bigint, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_alert_unverified(bigint, integer, text, text) TO tocsin_broker;

-- The signature the broker made for an alert as it published it, with the
-- canonical text it signed (048_alert_signatures). Once per alert: a
-- second call (a relay's or a peer's frame of the same alert) keeps the
-- first.
CREATE OR REPLACE FUNCTION tocsin_alert_signature_keep(p_alert_id bigint, p_key_id text,
                                                       p_sig text, p_signed text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO alert_signatures (alert_id, key_id, sig, signed, sha256)
    VALUES (p_alert_id, p_key_id, p_sig, p_signed,
            encode(sha256(convert_to(p_signed, 'UTF8')), 'hex'))
    ON CONFLICT (alert_id) DO NOTHING;
$$;

REVOKE EXECUTE ON FUNCTION tocsin_alert_signature_keep(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_alert_signature_keep(bigint, text, text, text) TO tocsin_broker;

-- What `tocsinctl alert verify ID` checks: the stored signature and the
-- text it covers, and the alert as the database holds it now (to compare
-- what was signed with what is stored). Audited as a consultation
-- (view_alert, {"verify": true}). No signature row: NULLs but alert_json.
CREATE OR REPLACE FUNCTION tocsin_admin_alert_signature(p_actor text, p_alert bigint)
RETURNS TABLE (key_id text, sig text, signed text, sha256 text, signed_at timestamptz,
               alert_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM tocsin_admin_view_alert(p_actor, p_alert, '{"verify": true}'::jsonb);
    RETURN QUERY
    SELECT s.key_id, s.sig, s.signed, s.sha256, s.signed_at, tocsin_alert_json(p_alert)
      FROM (SELECT 1) one
      LEFT JOIN alert_signatures s ON s.alert_id = p_alert;
END
$$;

REVOKE EXECUTE ON FUNCTION tocsin_admin_alert_signature(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_admin_alert_signature(text, bigint) TO tocsin_admin;
