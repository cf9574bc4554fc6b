-- cap_sender.sql: CAP senders whose XML Signatures the importer checks
-- (issues 18 and 23; 061_cap_senders): tocsinctl cap sender
-- add|list|remove (role tocsin_admin, audited), and the one row an adapter
-- asks for by sender before it imports (tocsin_bus_cap_sender).
--
-- tocsinctl reads the certificate or public key file and gives the public
-- key as SubjectPublicKeyInfo PEM with its SHA-256 fingerprint; the
-- database keeps what it is given and names it in the audit.

-- tocsinctl cap sender add: registers (or replaces) SENDER's key and what
-- to do with a document whose signature fails: 'hold' (the control
-- room's inbox) or 'refuse'. TS422 for a bad value. Audited
-- (cap_sender_added, with the fingerprint and the policy).
CREATE OR REPLACE FUNCTION tocsin_admin_cap_sender_add(p_actor text, p_sender text,
                                                       p_public_key text, p_fingerprint text,
                                                       p_subject text, p_on_failure text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
BEGIN
    IF p_sender IS NULL OR length(p_sender) NOT BETWEEN 1 AND 255
       OR p_sender ~ '[[:space:],]' THEN
        RAISE EXCEPTION 'the sender must be 1 to 255 characters, without spaces or commas (as CAP writes it)'
            USING ERRCODE = 'TS422', COLUMN = 'sender';
    END IF;
    IF p_on_failure IS NULL OR p_on_failure NOT IN ('hold', 'refuse') THEN
        RAISE EXCEPTION 'on failure must be hold or refuse'
            USING ERRCODE = 'TS422', COLUMN = 'on_failure';
    END IF;
    IF p_public_key IS NULL OR p_public_key NOT LIKE '-----BEGIN PUBLIC KEY-----%'
       OR p_fingerprint IS NULL OR p_fingerprint !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'the public key must be PEM with its SHA-256 fingerprint'
            USING ERRCODE = 'TS422', COLUMN = 'public_key';
    END IF;
    INSERT INTO cap_senders (sender, public_key, fingerprint, subject, on_failure, added_by)
    VALUES (p_sender, p_public_key, p_fingerprint, NULLIF(p_subject, ''), p_on_failure, v_actor)
    ON CONFLICT (sender) DO UPDATE
        SET public_key = EXCLUDED.public_key, fingerprint = EXCLUDED.fingerprint,
            subject = EXCLUDED.subject, on_failure = EXCLUDED.on_failure,
            added_at = clock_timestamp(), added_by = v_actor;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('cap_sender_added', v_actor, 'tocsinctl',
            jsonb_build_object('sender', p_sender, 'fingerprint', p_fingerprint,
                               'subject', NULLIF(p_subject, ''), 'on_failure', p_on_failure));
    RETURN p_fingerprint;
END
$$;

-- tocsinctl cap sender list: every registered sender, by sender.
CREATE OR REPLACE FUNCTION tocsin_admin_cap_sender_list()
RETURNS TABLE (sender text, fingerprint text, subject text, on_failure text,
               added_at timestamptz, added_by text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.sender, s.fingerprint, s.subject, s.on_failure, s.added_at, s.added_by
      FROM cap_senders s ORDER BY s.sender;
$$;

-- tocsinctl cap sender remove: true when SENDER was registered (its
-- documents then import unchecked, as any unregistered sender's). Audited
-- (cap_sender_removed) when it was.
CREATE OR REPLACE FUNCTION tocsin_admin_cap_sender_remove(p_actor text, p_sender text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_actor  text := tocsin_admin_actor(p_actor);
    s        cap_senders%ROWTYPE;
BEGIN
    DELETE FROM cap_senders c WHERE c.sender = p_sender RETURNING * INTO s;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('cap_sender_removed', v_actor, 'tocsinctl',
            jsonb_build_object('sender', s.sender, 'fingerprint', s.fingerprint,
                               'on_failure', s.on_failure));
    RETURN true;
END
$$;

-- The bus request cap_sender (broker/doors/bus_ingest.c): SENDER's key and
-- policy, or no row when it is not registered. Any adapter may ask (the
-- keys are public); tocsin_adapter_usable refuses a revoked one.
CREATE OR REPLACE FUNCTION tocsin_bus_cap_sender(p_adapter_id integer, p_sender text)
RETURNS TABLE (public_key text, on_failure text, fingerprint text)
LANGUAGE plpgsql AS $$
DECLARE
    a     adapters%ROWTYPE := tocsin_adapter_usable(p_adapter_id);
BEGIN
    RETURN QUERY SELECT s.public_key, s.on_failure, s.fingerprint
                   FROM cap_senders s WHERE s.sender = p_sender AND a.id IS NOT NULL;
END
$$;

GRANT EXECUTE ON FUNCTION tocsin_bus_cap_sender(integer, text) TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_admin_cap_sender_add(text, text, text, text, text, text),
    tocsin_admin_cap_sender_list(),
    tocsin_admin_cap_sender_remove(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_cap_sender_add(text, text, text, text, text, text),
    tocsin_admin_cap_sender_list(),
    tocsin_admin_cap_sender_remove(text, text)
    TO tocsin_admin;
