-- 019: GET /api/alerts/<id>/cap checks that the bearer token has not been
-- revoked, as the image endpoints do since 016. Without it a lost console
-- device's token could export its site's alerts until the token expired.

-- tocsin_cap_export for a bearer token issued at p_iat; a revoked token
-- gets status 'revoked', audited as a refused export.
CREATE FUNCTION tocsin_cap_export_token(p_alert_id bigint, p_user_id integer, p_iat bigint,
                                        p_remote text, p_base text)
RETURNS TABLE (status text, cap text)
LANGUAGE plpgsql AS $$
DECLARE
    v  text;
    u  users%ROWTYPE;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user_id, p_iat) c;
    IF v = 'ok' THEN
        RETURN QUERY SELECT * FROM tocsin_cap_export(p_alert_id, p_user_id, p_remote, p_base);
        RETURN;
    END IF;
    SELECT * INTO u FROM users WHERE id = p_user_id;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES ('cap_export_refused', u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('status', 'revoked', 'token', v, 'alert_id', p_alert_id,
                               'user_id', p_user_id, 'format', 'CAP 1.2'));
    RETURN QUERY SELECT 'revoked'::text, NULL::text;
END
$$;

REVOKE EXECUTE ON FUNCTION tocsin_cap_export_token(bigint, integer, bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tocsin_cap_export_token(bigint, integer, bigint, text, text) TO tocsin_broker;
