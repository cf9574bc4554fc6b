-- cap.sql: any alert as OASIS CAP 1.2 XML (issue #8; docs/protocol.md,
-- "CAP export"; the mapping is in adapters/cap/README.md).
--
-- tocsin_alert_cap builds the document: identifier urn:tocsin:alert:<id>,
-- sender urn:tocsin:org:<sending organisation>, references to every
-- earlier alert of an update or cancel chain (oldest first), one info
-- block with the model's fields, Tocsin's own fields CAP has no element
-- for as parameters (tocsin-category, classification, handling,
-- tocsin-request), a resource per image (its /api/images/<id> URI), and
-- the area as a CAP polygon or circle (radius in km; coordinates in the
-- shortest form that reads back as the same double). Times are whole
-- seconds in UTC written with the offset -00:00, as CAP 1.2 requires.
--
-- An alert an adapter imported (alerts.origin, 045_alert_source) keeps the
-- original message's identifier, sender, sent and senderName, and names
-- Tocsin's own identifier as its first reference (first: an importer that
-- resolves an Update by the last reference it knows finds the original
-- chain, which follows), so that a round trip (export, import elsewhere,
-- export) loses the origin nowhere.
--
-- tocsin_cap_export is what GET /api/alerts/<id>/cap runs: the alert's
-- readers only (its sending organisation, the force, and its recipients
-- as for images: consoles of recipient sites and operators of the
-- companies guarding them, when the alert targets their role and, for
-- OFFICIAL-SENSITIVE, they are cleared), every call audited as a
-- consultation (cap_export, or cap_export_refused with the reason).
-- tocsin_admin_cap_export is tocsinctl's (role tocsin_admin), audited too.

-- A time as CAP writes it.
CREATE OR REPLACE FUNCTION tocsin_cap_time(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '-00:00';
$$;

-- Tocsin category to the CAP category it is closest to.
CREATE OR REPLACE FUNCTION tocsin_cap_category(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p WHEN 'major_incident' THEN 'CBRNE'
                  WHEN 'planned_event' THEN 'Safety'
                  WHEN 'advice' THEN 'Safety'
                  ELSE 'Security' END;
$$;

-- A <parameter> (valueName, value), or NULL for an empty value.
CREATE OR REPLACE FUNCTION tocsin_cap_param(p_name text, p_value text) RETURNS xml
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_value IS NOT NULL AND p_value <> '' THEN
        xmlelement(name parameter, xmlelement(name "valueName", p_name),
                   xmlelement(name value, p_value)) END;
$$;

-- The <area> of an alert's area jsonb, or NULL.
CREATE OR REPLACE FUNCTION tocsin_cap_area(p_area jsonb) RETURNS xml
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_area ? 'polygon' THEN
            xmlelement(name area,
                xmlelement(name "areaDesc",
                           format('Polygon of %s points', jsonb_array_length(p_area->'polygon'))),
                xmlelement(name polygon,
                    (SELECT string_agg(format('%s,%s', (pt->>0)::float8, (pt->>1)::float8), ' '
                                       ORDER BY i)
                       FROM jsonb_array_elements(p_area->'polygon') WITH ORDINALITY AS x(pt, i))))
        WHEN p_area ? 'circle' THEN
            xmlelement(name area,
                xmlelement(name "areaDesc",
                           format('Circle of %s m around %s,%s', p_area->'circle'->>'radius_m',
                                  (p_area->'circle'->>'lat')::float8,
                                  (p_area->'circle'->>'lon')::float8)),
                xmlelement(name circle,
                    format('%s,%s %s', (p_area->'circle'->>'lat')::float8,
                           (p_area->'circle'->>'lon')::float8,
                           (p_area->'circle'->>'radius_m')::float8 / 1000)))
    END;
$$;

-- The "sender,identifier,sent" triplets of the alerts an update or cancel
-- replaces, oldest first (an imported one by its original triplet); NULL
-- for an alert that replaces none.
CREATE OR REPLACE FUNCTION tocsin_cap_references(p_alert_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain (id, depth) AS (
        SELECT a.references_id, 1 FROM alerts a
         WHERE a.id = p_alert_id AND a.references_id IS NOT NULL
        UNION ALL
        SELECT a.references_id, c.depth + 1 FROM chain c JOIN alerts a ON a.id = c.id
         WHERE a.references_id IS NOT NULL AND c.depth < 1000)
    SELECT string_agg(CASE WHEN a.origin IS NOT NULL THEN
                          format('%s,%s,%s', a.origin->>'sender', a.origin->>'identifier',
                                 a.origin->>'sent')
                      ELSE format('urn:tocsin:org:%s,urn:tocsin:alert:%s,%s', a.sender_org_id,
                                  a.id, tocsin_cap_time(a.sent_at)) END,
                      ' ' ORDER BY c.depth DESC)
      FROM chain c JOIN alerts a ON a.id = c.id;
$$;

-- The CAP 1.2 document of an alert (NULL when there is none). p_base is
-- prefixed to image URIs (e.g. http://127.0.0.1:8080; '' for relative).
CREATE OR REPLACE FUNCTION tocsin_alert_cap(p_alert_id bigint, p_base text)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '<?xml version="1.0" encoding="UTF-8"?>' || chr(10) ||
        xmlelement(name alert, xmlattributes('urn:oasis:names:tc:emergency:cap:1.2' AS xmlns),
            xmlelement(name identifier, COALESCE(a.origin->>'identifier',
                                                 'urn:tocsin:alert:' || a.id)),
            xmlelement(name sender, COALESCE(a.origin->>'sender',
                                             'urn:tocsin:org:' || a.sender_org_id)),
            xmlelement(name sent, COALESCE(a.origin->>'sent', tocsin_cap_time(a.sent_at))),
            xmlelement(name status, initcap(a.status)),
            xmlelement(name "msgType", initcap(a.msg_type)),
            xmlelement(name scope, 'Restricted'),
            xmlelement(name restriction,
                       a.classification || ': the recipients Tocsin resolved for this alert'),
            CASE WHEN a.relay_of IS NOT NULL THEN
                xmlelement(name note, format('Relay of urn:tocsin:alert:%s by %s%s', a.relay_of,
                                             o.name, ': ' || a.relay_note)) END,
            CASE WHEN a.references_id IS NOT NULL OR a.origin IS NOT NULL THEN
                xmlelement(name "references", concat_ws(' ',
                    CASE WHEN a.origin IS NOT NULL THEN
                        format('urn:tocsin:org:%s,urn:tocsin:alert:%s,%s', a.sender_org_id,
                               a.id, tocsin_cap_time(a.sent_at)) END,
                    tocsin_cap_references(a.id))) END,
            xmlelement(name info,
                xmlelement(name language, 'en-GB'),
                xmlelement(name category, tocsin_cap_category(a.category)),
                xmlelement(name event, initcap(replace(a.category, '_', ' '))),
                xmlelement(name urgency, initcap(a.urgency)),
                xmlelement(name severity, initcap(a.severity)),
                xmlelement(name certainty, initcap(a.certainty)),
                xmlelement(name effective, tocsin_cap_time(COALESCE(a.effective, a.sent_at))),
                CASE WHEN a.expires IS NOT NULL THEN
                    xmlelement(name expires, tocsin_cap_time(a.expires)) END,
                xmlelement(name "senderName", COALESCE(a.origin->>'sender_name', o.name)),
                xmlelement(name headline, a.headline),
                CASE WHEN a.body <> '' THEN xmlelement(name description, a.body) END,
                CASE WHEN a.instruction <> '' THEN xmlelement(name instruction, a.instruction) END,
                tocsin_cap_param('tocsin-category', a.category),
                tocsin_cap_param('classification', a.classification),
                tocsin_cap_param('handling', a.handling),
                tocsin_cap_param('tocsin-request', a.request::text),
                (SELECT xmlagg(xmlelement(name resource,
                                   xmlelement(name "resourceDesc", 'Image ' || (ai.position + 1)),
                                   xmlelement(name "mimeType", i.mime),
                                   xmlelement(name size, i.size),
                                   xmlelement(name uri, COALESCE(p_base, '') || '/api/images/' || i.id))
                               ORDER BY ai.position)
                   FROM alert_images ai JOIN images i ON i.id = ai.image_id
                  WHERE ai.alert_id = a.id),
                tocsin_cap_area(a.area)))::text
      FROM alerts a JOIN organisations o ON o.id = a.sender_org_id
     WHERE a.id = p_alert_id;
$$;

-- GET /api/alerts/<id>/cap: status 'ok' with the document, 'not_found'
-- or 'forbidden' (also for an unknown or disabled user). Audited.
CREATE OR REPLACE FUNCTION tocsin_cap_export(p_alert_id bigint, p_user_id integer, p_remote text,
                                             p_base text)
RETURNS TABLE (status text, cap text)
LANGUAGE plpgsql AS $$
DECLARE
    u         users%ROWTYPE;
    v_status  text;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id;
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert_id) THEN
        v_status := 'not_found';
    ELSIF tocsin_alert_readable(p_user_id, p_alert_id) THEN
        v_status := 'ok';
    ELSE
        v_status := 'forbidden';
    END IF;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES (CASE WHEN v_status = 'ok' THEN 'cap_export' ELSE 'cap_export_refused' END,
            u.id, u.username, u.role, u.org_id,
            CASE WHEN v_status <> 'not_found' THEN p_alert_id END, u.site_id, p_remote,
            jsonb_build_object('status', v_status, 'alert_id', p_alert_id,
                               'user_id', p_user_id, 'format', 'CAP 1.2'));
    RETURN QUERY SELECT v_status,
                        CASE WHEN v_status = 'ok' THEN tocsin_alert_cap(p_alert_id, p_base) END;
END
$$;

-- tocsin_cap_export for a bearer token issued at p_iat; a revoked token
-- gets status 'revoked', audited as a refused export. GET
-- /api/alerts/<id>/cap checks that the bearer token has not been revoked,
-- as the image endpoints do (tocsin_image_fetch_token): without it a lost
-- console device's token could export its site's alerts until the token
-- expired.
CREATE OR REPLACE FUNCTION tocsin_cap_export_token(p_alert_id bigint, p_user_id integer,
                                                   p_iat bigint, p_remote text, p_base text)
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

-- tocsinctl cap export: the operator named by p_actor, audited.
CREATE OR REPLACE FUNCTION tocsin_admin_cap_export(p_actor text, p_alert bigint, p_base text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_actor IS NULL OR length(btrim(p_actor)) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'the actor must be 1 to 100 characters' USING ERRCODE = 'TS422',
            COLUMN = 'actor';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert) THEN
        RAISE EXCEPTION 'no alert %', p_alert USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    INSERT INTO audit (action, actor_username, actor_role, alert_id, detail)
    VALUES ('cap_export', btrim(p_actor), 'tocsinctl', p_alert,
            jsonb_build_object('format', 'CAP 1.2'));
    RETURN tocsin_alert_cap(p_alert, p_base);
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_cap_time(timestamptz),
    tocsin_cap_category(text),
    tocsin_cap_param(text, text),
    tocsin_cap_area(jsonb),
    tocsin_cap_references(bigint),
    tocsin_alert_cap(bigint, text),
    tocsin_cap_export(bigint, integer, text, text)
    TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_cap_export_token(bigint, integer, bigint, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_cap_export_token(bigint, integer, bigint, text, text)
    TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_admin_cap_export(text, bigint, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_admin_cap_export(text, bigint, text)
    TO tocsin_admin;
