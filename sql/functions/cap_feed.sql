-- cap_feed.sql: the alerts in force as an Atom feed of CAP documents
-- (issue 18, item 5; docs/protocol.md, "CAP feed (HTTP)"), the way
-- national alerting services publish their CAP index feeds.
--
-- tocsin_cap_feed is what GET /api/cap/feed runs: one atom:entry per alert
-- in force that the caller may read (tocsin_alert_readable, the rule of
-- the CAP export), newest first, at most 200: not cancelled, not expired,
-- not a cancel, and not replaced by a later update of its chain (the
-- update is listed instead). Each entry links to its CAP document
-- (/api/alerts/<id>/cap, rel alternate, type application/cap+xml) and
-- names its author: the original sender of an imported alert
-- (alerts.origin), else the sending organisation. Every call is one audit
-- row, cap_feed_export (a disclosure: tocsin_audit_category), listing the
-- alert ids it disclosed.
--
-- Why the newest 200 by seq: the scan walks alerts_seq_key backwards and
-- stops at the 200th readable alert in force, so the cost is bounded by
-- how far back that is, not by the size of the table.

CREATE OR REPLACE FUNCTION tocsin_atom_time(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;

-- The ids of the alerts in force p_user_id may read, newest first.
CREATE OR REPLACE FUNCTION tocsin_cap_feed_ids(p_user_id integer)
RETURNS TABLE (id bigint)
LANGUAGE sql STABLE AS $$
    SELECT a.id FROM alerts a
     WHERE a.msg_type <> 'cancel' AND a.cancelled_at IS NULL
       AND (a.expires IS NULL OR a.expires > now())
       AND NOT EXISTS (SELECT 1 FROM alerts n WHERE n.references_id = a.id)
       AND tocsin_alert_readable(p_user_id, a.id)
     ORDER BY a.seq DESC
     LIMIT 200;
$$;

-- The feed document for these alerts. p_base prefixes the links.
CREATE OR REPLACE FUNCTION tocsin_cap_feed_doc(p_ids bigint[], p_base text)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '<?xml version="1.0" encoding="UTF-8"?>' || chr(10) ||
        xmlelement(name feed, xmlattributes('http://www.w3.org/2005/Atom' AS xmlns),
            xmlelement(name id, 'urn:tocsin:cap-feed'),
            xmlelement(name title, 'Tocsin: alerts in force'),
            xmlelement(name updated, tocsin_atom_time(COALESCE(
                (SELECT max(a.sent_at) FROM alerts a WHERE a.id = ANY (p_ids)), now()))),
            xmlelement(name author, xmlelement(name name, 'Tocsin')),
            xmlelement(name link, xmlattributes('self' AS rel, 'application/atom+xml' AS type,
                                                COALESCE(p_base, '') || '/api/cap/feed' AS href)),
            (SELECT xmlagg(xmlelement(name entry,
                        xmlelement(name id, 'urn:tocsin:alert:' || a.id),
                        xmlelement(name title, a.headline),
                        xmlelement(name updated, tocsin_atom_time(a.sent_at)),
                        xmlelement(name author, xmlelement(name name,
                            COALESCE(a.origin->>'sender_name', a.origin->>'sender', o.name))),
                        xmlelement(name category, xmlattributes(a.category AS term)),
                        xmlelement(name link, xmlattributes('alternate' AS rel,
                            'application/cap+xml' AS type,
                            COALESCE(p_base, '') || '/api/alerts/' || a.id || '/cap' AS href)),
                        xmlelement(name summary, format('%s %s%s: %s', initcap(a.severity),
                            replace(a.category, '_', ' '),
                            CASE WHEN a.status <> 'actual' THEN ' (' || a.status || ')' ELSE '' END,
                            a.headline)))
                    ORDER BY a.seq DESC)
               FROM alerts a JOIN organisations o ON o.id = a.sender_org_id
              WHERE a.id = ANY (p_ids)))::text;
$$;

-- GET /api/cap/feed with a bearer token issued at p_iat: status 'ok' and
-- the feed, or 'revoked' (a revoked token, a disabled user); audited
-- either way.
CREATE OR REPLACE FUNCTION tocsin_cap_feed_token(p_user_id integer, p_iat bigint, p_remote text,
                                                 p_base text)
RETURNS TABLE (status text, feed text)
LANGUAGE plpgsql AS $$
DECLARE
    v    text;
    u    users%ROWTYPE;
    ids  bigint[];
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user_id, p_iat) c;
    SELECT * INTO u FROM users WHERE id = p_user_id;
    IF v = 'ok' THEN
        ids := ARRAY(SELECT f.id FROM tocsin_cap_feed_ids(p_user_id) f);
    END IF;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES (CASE WHEN v = 'ok' THEN 'cap_feed_export' ELSE 'cap_feed_refused' END,
            u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('status', CASE WHEN v = 'ok' THEN 'ok' ELSE 'revoked' END,
                               'token', v, 'format', 'Atom', 'alerts', to_jsonb(ids)));
    IF v <> 'ok' THEN
        RETURN QUERY SELECT 'revoked'::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, tocsin_cap_feed_doc(ids, p_base);
END
$$;

REVOKE EXECUTE ON FUNCTION tocsin_cap_feed_token(integer, bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_atom_time(timestamptz),
    tocsin_cap_feed_ids(integer),
    tocsin_cap_feed_doc(bigint[], text),
    tocsin_cap_feed_token(integer, bigint, text, text)
    TO tocsin_broker;
