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
