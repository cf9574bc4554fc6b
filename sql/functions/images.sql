-- images.sql: offender images (docs/protocol.md, "Images (HTTP)"): upload,
-- attachment to an alert, who may see one, and erasure past expiry. The
-- tables, and how an image lives and dies, are in sql/schema/08_images.sql.

-- tocsin_image_store: keep an uploaded image. The broker has checked the
-- type and size, computed the SHA-256 and drawn the id (16 random bytes,
-- base64url); the digest is checked again here so that what is stored is
-- what the broker received.
CREATE OR REPLACE FUNCTION tocsin_image_store(p_id text, p_user_id integer, p_mime text,
                                              p_content bytea, p_sha256 text, p_remote text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    u  users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role NOT IN ('controller', 'analyst', 'site_console',
                                   'company_operator') THEN
        RAISE EXCEPTION 'this user may not upload images' USING ERRCODE = 'TS403';
    END IF;
    IF p_mime NOT IN ('image/jpeg', 'image/png') THEN
        RAISE EXCEPTION 'images must be image/jpeg or image/png'
            USING ERRCODE = 'TS422', COLUMN = 'content-type';
    END IF;
    IF p_content IS NULL OR length(p_content) NOT BETWEEN 1 AND 2097152 THEN
        RAISE EXCEPTION 'an image has 1 to 2097152 bytes'
            USING ERRCODE = 'TS422', COLUMN = 'body';
    END IF;
    IF encode(sha256(p_content), 'hex') IS DISTINCT FROM lower(p_sha256) THEN
        RAISE EXCEPTION 'the image does not match its SHA-256'
            USING ERRCODE = 'TS422', COLUMN = 'body';
    END IF;

    INSERT INTO images (id, uploader_user_id, uploader_org_id, mime, size, sha256, content)
    VALUES (p_id, u.id, u.org_id, p_mime, length(p_content), lower(p_sha256), p_content);

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES ('image_upload', u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('image_id', p_id, 'mime', p_mime,
                               'size', length(p_content), 'sha256', lower(p_sha256)));
    RETURN p_id;
END
$$;

-- tocsin_attach_images: called by tocsin_publish in the publish
-- transaction. Each image must exist, be unexpired and have been uploaded
-- by the publisher's organisation; otherwise TS404 naming images[i]. The
-- image then expires p_days after the alert was sent, or earlier if
-- another alert already set an earlier expiry.
CREATE OR REPLACE FUNCTION tocsin_attach_images(p_alert_id bigint, p_user_id integer,
                                                p_images text[], p_days integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE;
    img      images%ROWTYPE;
    v_sent   timestamptz;
    v_until  timestamptz;
    v_days   integer := COALESCE(p_days, 90);
BEGIN
    IF p_images IS NULL OR cardinality(p_images) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(p_images) > 4 THEN
        RAISE EXCEPTION 'an alert carries at most 4 images'
            USING ERRCODE = 'TS422', COLUMN = 'images';
    END IF;
    IF v_days NOT BETWEEN 1 AND 365 THEN
        RAISE EXCEPTION 'image_days must be 1 to 365'
            USING ERRCODE = 'TS422', COLUMN = 'image_days';
    END IF;
    SELECT * INTO u FROM users WHERE id = p_user_id;
    SELECT sent_at INTO v_sent FROM alerts WHERE id = p_alert_id;
    v_until := COALESCE(v_sent, now()) + make_interval(days => v_days);

    FOR i IN 1 .. cardinality(p_images) LOOP
        SELECT * INTO img FROM images WHERE id = p_images[i] FOR UPDATE;
        IF NOT FOUND OR img.erased_at IS NOT NULL OR img.expires_at <= now()
           OR u.id IS NULL OR img.uploader_org_id <> u.org_id THEN
            RAISE EXCEPTION 'no image % uploaded by this organisation', p_images[i]
                USING ERRCODE = 'TS404', COLUMN = format('images[%s]', i - 1);
        END IF;
        INSERT INTO alert_images (alert_id, image_id, position)
        VALUES (p_alert_id, img.id, i - 1)
        ON CONFLICT DO NOTHING;
        UPDATE images SET expires_at = LEAST(COALESCE(expires_at, v_until), v_until)
         WHERE id = img.id;
    END LOOP;

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, detail)
    SELECT 'image_attach', u.id, u.username, u.role, u.org_id, p_alert_id,
           jsonb_build_object('image_days', v_days,
                              'images', jsonb_agg(jsonb_build_object(
                                  'image_id', im.id, 'sha256', im.sha256,
                                  'expires_at', im.expires_at) ORDER BY ai.position))
      FROM alert_images ai JOIN images im ON im.id = ai.image_id
     WHERE ai.alert_id = p_alert_id;
END
$$;

-- tocsin_relay_images: a relay shows the images of the alert it relays
-- (their expiry is unchanged). For tocsin_relay, if relays carry images.
CREATE OR REPLACE FUNCTION tocsin_relay_images(p_relay_id bigint, p_of bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO alert_images (alert_id, image_id, position)
    SELECT p_relay_id, image_id, position FROM alert_images WHERE alert_id = p_of
    ON CONFLICT DO NOTHING;
$$;

-- tocsin_alert_images: the "images" member of an alert frame.
CREATE OR REPLACE FUNCTION tocsin_alert_images(p_alert_id bigint)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(json_agg(json_build_object(
               'id', i.id,
               'expires_at', to_char(i.expires_at AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'expired', i.erased_at IS NOT NULL OR i.expires_at <= now())
             ORDER BY ai.position), '[]'::json)
      FROM alert_images ai JOIN images i ON i.id = ai.image_id
     WHERE ai.alert_id = p_alert_id;
$$;

-- tocsin_image_erase: erase one image's bytes (once) and audit it with
-- metadata only. Returns false when it was erased already.
CREATE OR REPLACE FUNCTION tocsin_image_erase(p_id text, p_reason text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    img  images%ROWTYPE;
BEGIN
    UPDATE images SET content = NULL, erased_at = clock_timestamp()
     WHERE id = p_id AND erased_at IS NULL
    RETURNING * INTO img;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit (at, action, actor_role, detail)
    VALUES (img.erased_at, 'image_erased', 'system',
            jsonb_build_object('image_id', img.id, 'mime', img.mime, 'size', img.size,
                               'sha256', img.sha256,
                               'uploader_user_id', img.uploader_user_id,
                               'uploader_org_id', img.uploader_org_id,
                               'created_at', img.created_at, 'expires_at', img.expires_at,
                               'reason', p_reason,
                               'alerts', COALESCE((SELECT jsonb_agg(alert_id ORDER BY alert_id)
                                                     FROM alert_images
                                                    WHERE image_id = img.id), '[]'::jsonb)));
    RETURN true;
END
$$;

-- tocsin_erase_expired_images: the broker's periodic sweep. Erases images
-- past their expiry, and images never attached to an alert 90 days (the
-- default retention) after their upload, at most 500 per call; returns
-- how many. Several brokers may sweep at once: SKIP LOCKED.
CREATE OR REPLACE FUNCTION tocsin_erase_expired_images()
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r  record;
    n  integer := 0;
BEGIN
    FOR r IN
        SELECT id, expires_at IS NULL AS unattached FROM images
         WHERE erased_at IS NULL
           AND (expires_at <= now()
                OR (expires_at IS NULL AND created_at <= now() - interval '90 days'))
         ORDER BY COALESCE(expires_at, created_at)
         LIMIT 500
           FOR UPDATE SKIP LOCKED
    LOOP
        IF tocsin_image_erase(r.id, CASE WHEN r.unattached THEN 'never attached'
                                         ELSE 'expired' END) THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

-- tocsin_image_fetch: may this user see this image? status is
--   ok         mime and content are the image
--   forbidden  not the force, not the uploader, not a recipient (also for
--              an unknown or disabled user)
--   not_found  no such image
--   expired    past its expiry: erased (now, if the sweep has not yet)
-- The force is a controller, analyst or admin of a police organisation.
-- A recipient is one an alert carrying the image was sent to
-- (tocsin_alert_sent_to): a console of a recipient site, or an operator of
-- the company guarding one, when the alert targets that role and, if
-- OFFICIAL-SENSITIVE, the user is cleared.
-- Every call is audited: image_view, or image_view_refused with the reason.
CREATE OR REPLACE FUNCTION tocsin_image_fetch(p_image text, p_user_id integer, p_remote text)
RETURNS TABLE (mime text, content bytea, status text)
LANGUAGE plpgsql AS $$
DECLARE
    u         users%ROWTYPE;
    img       images%ROWTYPE;
    v_status  text;
    v_via     text;
    v_alerts  bigint[];
    v_all     bigint[];
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id;
    SELECT * INTO img FROM images i WHERE i.id = p_image;
    SELECT array_agg(ai.alert_id ORDER BY ai.alert_id) INTO v_all
      FROM alert_images ai WHERE ai.image_id = p_image;

    IF img.id IS NULL THEN
        v_status := 'not_found';
    ELSIF u.id IS NULL OR u.disabled THEN
        v_status := 'forbidden';
    ELSE
        IF u.role IN ('controller', 'analyst', 'admin')
           AND EXISTS (SELECT 1 FROM organisations o
                        WHERE o.id = u.org_id AND o.kind IN ('police', 'police_unit')) THEN
            v_via := 'force';
            v_alerts := v_all;
        ELSIF img.uploader_user_id = u.id THEN
            v_via := 'uploader';
            v_alerts := v_all;
        ELSIF u.role IN ('site_console', 'company_operator') THEN
            SELECT array_agg(ai.alert_id ORDER BY ai.alert_id) INTO v_alerts
              FROM alert_images ai
             WHERE ai.image_id = img.id
               AND tocsin_alert_sent_to(ai.alert_id, u.role, u.cleared_sensitive, u.site_id,
                                        u.org_id);
            IF v_alerts IS NOT NULL THEN
                v_via := 'recipient';
            END IF;
        END IF;
        IF v_via IS NULL THEN
            v_status := 'forbidden';
        ELSIF img.erased_at IS NOT NULL THEN
            v_status := 'expired';
        ELSIF img.expires_at <= now() THEN
            PERFORM tocsin_image_erase(img.id, 'expired (at a fetch)');
            v_status := 'expired';
        ELSE
            v_status := 'ok';
        END IF;
    END IF;

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES (CASE WHEN v_status = 'ok' THEN 'image_view' ELSE 'image_view_refused' END,
            u.id, u.username, u.role, u.org_id,
            CASE WHEN v_via = 'recipient' THEN v_alerts[1] END, u.site_id, p_remote,
            jsonb_build_object('image_id', p_image, 'status', v_status, 'via', v_via,
                               'alerts', COALESCE(to_jsonb(CASE WHEN v_via IS NOT NULL
                                                                THEN v_alerts END),
                                                  '[]'::jsonb),
                               'user_id', p_user_id));

    IF v_status = 'ok' THEN
        RETURN QUERY SELECT img.mime, img.content, v_status;
    ELSE
        RETURN QUERY SELECT NULL::text, NULL::bytea, v_status;
    END IF;
END
$$;

-- tocsin_image_store for a bearer token issued at p_iat: a revoked or
-- disabled user's token is refused (TS401, the broker's 401 auth_revoked).
-- Without it /api/images took a revoked token (users.tokens_valid_after
-- bumped, e.g. a lost console device) until the token expired, up to
-- --token-ttl later: the WebSocket side closes such sessions within
-- seconds, but an image fetch or upload never asked (found by walking the
-- access matrix: docs/security.md, tests/e2e/50-access-matrix.test.mjs).
CREATE OR REPLACE FUNCTION tocsin_image_store_token(p_id text, p_user_id integer, p_iat bigint,
                                                    p_mime text, p_content bytea, p_sha256 text,
                                                    p_remote text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tocsin_token_gate(p_user_id, p_iat);
    RETURN tocsin_image_store(p_id, p_user_id, p_mime, p_content, p_sha256, p_remote);
END
$$;

-- tocsin_image_fetch for a bearer token issued at p_iat; a revoked token
-- gets status 'revoked', audited like any other refusal (image_view_refused
-- with status "revoked"; see tocsin_image_store_token for why).
CREATE OR REPLACE FUNCTION tocsin_image_fetch_token(p_image text, p_user_id integer, p_iat bigint,
                                                    p_remote text)
RETURNS TABLE (mime text, content bytea, status text)
LANGUAGE plpgsql AS $$
DECLARE
    v  text;
    u  users%ROWTYPE;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user_id, p_iat) c;
    IF v = 'ok' THEN
        RETURN QUERY SELECT * FROM tocsin_image_fetch(p_image, p_user_id, p_remote);
        RETURN;
    END IF;
    SELECT * INTO u FROM users WHERE id = p_user_id;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES ('image_view_refused', u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('image_id', p_image, 'status', 'revoked', 'token', v,
                               'alerts', '[]'::jsonb, 'user_id', p_user_id));
    RETURN QUERY SELECT NULL::text, NULL::bytea, 'revoked'::text;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_image_store(text, integer, text, bytea, text, text),
    tocsin_attach_images(bigint, integer, text[], integer),
    tocsin_relay_images(bigint, bigint),
    tocsin_alert_images(bigint),
    tocsin_image_erase(text, text),
    tocsin_erase_expired_images(),
    tocsin_image_fetch(text, integer, text),
    tocsin_image_store_token(text, integer, bigint, text, bytea, text, text),
    tocsin_image_fetch_token(text, integer, bigint, text)
    TO tocsin_broker;
