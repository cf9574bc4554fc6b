-- bus.sql: adapters on the ZeroMQ bus (docs/bus.md; the tables are in
-- sql/schema/09_bus.sql).
--
-- tocsin_bus_publish, tocsin_bus_report and tocsin_bus_image make the
-- (adapter, seq) check (tocsin_adapter_claim) and the store one transaction: two copies arriving together wait on the
-- primary key of adapter_submissions and the second sees the first.
-- Registering and revoking (tocsinctl adapter ...) run as the caller (the
-- migration role or tocsin_admin) and name current_user in the audit; the
-- broker only reads the keys, records submissions and audits refusals.

-- tocsin_adapter_keys: what the broker's ZAP handler and request handling
-- need, for every adapter (revoked ones too, so a refusal can say why).
CREATE OR REPLACE FUNCTION tocsin_adapter_keys()
RETURNS TABLE (adapter_id integer, name text, public_key text, revoked boolean,
               user_id integer, username text, role text, org_id integer, site_id integer,
               cleared boolean, disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT a.id, a.name, a.public_key, a.revoked_at IS NOT NULL, u.id, u.username, u.role,
           u.org_id, u.site_id, COALESCE(u.cleared_sensitive, false), u.disabled
      FROM adapters a JOIN users u ON u.id = a.user_id
     ORDER BY a.id;
$$;

-- The adapter, locked against a concurrent revoke (hence SECURITY
-- DEFINER: FOR SHARE needs more than the broker's SELECT); TS403 if it may
-- not submit any more.
CREATE OR REPLACE FUNCTION tocsin_adapter_usable(p_adapter_id integer)
RETURNS adapters
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a adapters%ROWTYPE;
BEGIN
    SELECT * INTO a FROM adapters WHERE id = p_adapter_id FOR SHARE;
    IF NOT FOUND OR a.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'this adapter is revoked' USING ERRCODE = 'TS403';
    END IF;
    RETURN a;
END
$$;

-- The audit row that names the adapter behind a submission.
CREATE OR REPLACE FUNCTION tocsin_adapter_audit(p_adapter adapters, p_seq bigint, p_kind text,
                                                p_alert_id bigint, p_report_id bigint,
                                                p_remote text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    SELECT 'adapter_submit', u.id, u.username, u.role, u.org_id, p_alert_id, p_remote,
           jsonb_build_object('adapter', p_adapter.name, 'adapter_id', p_adapter.id,
                              'seq', p_seq, 'kind', p_kind, 'report_id', p_report_id)
      FROM users u WHERE u.id = p_adapter.user_id;
$$;

-- tocsin_adapter_claim: claims an adapter's (seq) for a submission of
-- p_kind: NULL when this call recorded it (the caller stores the
-- submission in the same transaction), or the first submission's row (the
-- caller answers with it, as a duplicate); TS422 naming seq when the seq
-- was used for another kind. Two copies arriving together wait on the
-- primary key, and the second sees the first.
CREATE OR REPLACE FUNCTION tocsin_adapter_claim(p_adapter_id integer, p_seq bigint, p_kind text,
                                                p_alert_id bigint, p_image_id text)
RETURNS adapter_submissions
LANGUAGE plpgsql AS $$
DECLARE
    prior adapter_submissions%ROWTYPE;
BEGIN
    INSERT INTO adapter_submissions (adapter_id, seq, kind, alert_id, image_id)
    VALUES (p_adapter_id, p_seq, p_kind, p_alert_id, p_image_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO prior FROM adapter_submissions s
     WHERE s.adapter_id = p_adapter_id AND s.seq = p_seq;
    IF prior.kind <> p_kind THEN
        RAISE EXCEPTION 'seq % was already used for a %', p_seq, prior.kind
            USING ERRCODE = 'TS422', COLUMN = 'seq';
    END IF;
    RETURN prior;
END
$$;

-- tocsin_bus_publish: tocsin_publish for an adapter's (seq). A repeated
-- seq returns the original alert with duplicate = true and changes
-- nothing. The alert's id comes from the broker as for a WebSocket publish.
CREATE OR REPLACE FUNCTION tocsin_bus_publish(p_adapter_id integer, p_seq bigint, p_alert_id bigint,
                                              p_rec jsonb, p_remote text)
RETURNS TABLE (alert_id bigint, seq bigint, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, target_roles text[],
               classification text, alert json, existed boolean, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
    a     adapters%ROWTYPE := tocsin_adapter_usable(p_adapter_id);
    prior adapter_submissions%ROWTYPE;
BEGIN
    prior := tocsin_adapter_claim(a.id, p_seq, 'publish', p_alert_id, NULL);
    IF prior.seq IS NOT NULL THEN
        RETURN QUERY SELECT p.*, true
          FROM tocsin_publish(prior.alert_id, a.user_id, p_rec, p_remote, NULL) p;
        RETURN;
    END IF;
    RETURN QUERY SELECT p.*, false
      FROM tocsin_publish(p_alert_id, a.user_id, p_rec, p_remote, NULL) p;
    PERFORM tocsin_adapter_audit(a, p_seq, 'publish', p_alert_id, NULL, p_remote);
END
$$;

-- tocsin_bus_journaled: records the (adapter, seq) of a publish that was
-- journaled while the database was away, as the journal is written back
-- (tocsin_journal_apply, in the publish's transaction), so that a later
-- resend is still a duplicate.
CREATE OR REPLACE FUNCTION tocsin_bus_journaled(p_adapter_id integer, p_seq bigint,
                                                p_alert_id bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO adapter_submissions (adapter_id, seq, kind, alert_id)
    VALUES (p_adapter_id, p_seq, 'publish', p_alert_id)
    ON CONFLICT DO NOTHING;
$$;

-- tocsin_bus_report: tocsin_report for an adapter's (seq); a repeated seq
-- returns the original report with duplicate = true. A pending CAP import
-- (kind 'cap_import', 049_cap_geocodes) holds p_cap, the publish request
-- the adapter could not target; no other kind has one (TS422 naming cap).
CREATE OR REPLACE FUNCTION tocsin_bus_report(p_adapter_id integer, p_seq bigint, p_kind text,
                                             p_text text, p_lat double precision,
                                             p_lon double precision, p_occurred_at text,
                                             p_image text, p_remote text, p_cap jsonb)
RETURNS TABLE (report_id bigint, report json, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
    a     adapters%ROWTYPE := tocsin_adapter_usable(p_adapter_id);
    u     users%ROWTYPE;
    prior adapter_submissions%ROWTYPE;
    r     record;
BEGIN
    SELECT * INTO u FROM users WHERE id = a.user_id;
    prior := tocsin_adapter_claim(a.id, p_seq, 'report', NULL, NULL);
    IF prior.seq IS NOT NULL THEN
        RETURN QUERY SELECT p.id::bigint, tocsin_partner_report_json(p), true
          FROM partner_reports p WHERE p.id = prior.report_id;
        RETURN;
    END IF;
    IF (p_kind = 'cap_import') <> (p_cap IS NOT NULL) THEN
        RAISE EXCEPTION 'a cap_import report holds the CAP publish request, and only it does'
            USING ERRCODE = 'TS422', COLUMN = 'cap';
    END IF;
    SELECT * INTO r FROM tocsin_report(u.id, u.site_id, p_kind, p_text, p_lat, p_lon,
                                       p_occurred_at, p_image, p_remote);
    IF p_cap IS NOT NULL THEN
        UPDATE partner_reports p SET cap = p_cap WHERE p.id = r.report_id;
        SELECT r.report_id, tocsin_partner_report_json(p) AS report INTO r
          FROM partner_reports p WHERE p.id = r.report_id;
    END IF;
    UPDATE adapter_submissions s SET report_id = r.report_id
     WHERE s.adapter_id = a.id AND s.seq = p_seq;
    PERFORM tocsin_adapter_audit(a, p_seq, 'report', NULL, r.report_id, p_remote);
    RETURN QUERY SELECT r.report_id::bigint, r.report::json, false;
END
$$;

-- tocsin_bus_image: tocsin_image_store for an adapter's (seq), as the
-- adapter's user, with the id the broker drew; a repeated seq returns the
-- first image's id with duplicate = true and stores nothing (issue 16: a
-- resend stored the image again). A seq already used for a publish or a
-- report is refused (TS422, seq).
CREATE OR REPLACE FUNCTION tocsin_bus_image(p_adapter_id integer, p_seq bigint, p_id text,
                                            p_mime text, p_content bytea, p_sha256 text,
                                            p_remote text)
RETURNS TABLE (image_id text, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
    a     adapters%ROWTYPE := tocsin_adapter_usable(p_adapter_id);
    prior adapter_submissions%ROWTYPE;
BEGIN
    prior := tocsin_adapter_claim(a.id, p_seq, 'image', NULL, p_id);
    IF prior.seq IS NOT NULL THEN
        RETURN QUERY SELECT prior.image_id, true;
        RETURN;
    END IF;
    RETURN QUERY SELECT tocsin_image_store(p_id, a.user_id, p_mime, p_content, p_sha256, p_remote),
                        false;
END
$$;

-- tocsin_adapter_refused: the audit row for a refused CURVE handshake.
-- p_reason is 'unknown' or 'revoked'; a known key names its adapter and
-- user.
CREATE OR REPLACE FUNCTION tocsin_adapter_refused(p_public_key text, p_reason text, p_address text,
                                                  p_socket text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    SELECT 'adapter_refused', u.id, u.username, u.role, u.org_id, p_address,
           jsonb_build_object('public_key', p_public_key, 'reason', p_reason,
                              'address', p_address, 'socket', p_socket,
                              'adapter', a.name)
      FROM (SELECT 1) one
      LEFT JOIN adapters a ON a.public_key = p_public_key
      LEFT JOIN users u ON u.id = a.user_id;
$$;

-- tocsin_adapter_add / tocsin_adapter_revoke: tocsinctl's, audited
-- (tocsin_admin may run them, not the broker).
CREATE OR REPLACE FUNCTION tocsin_adapter_add(p_name text, p_username text, p_public_key text)
RETURNS TABLE (adapter_id integer, name text, username text, role text, public_key text)
LANGUAGE plpgsql AS $$
DECLARE
    u users%ROWTYPE;
    a adapters%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE users.username = p_username;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user named %', p_username USING ERRCODE = 'TS404';
    END IF;
    IF EXISTS (SELECT 1 FROM adapters x WHERE x.name = p_name) THEN
        RAISE EXCEPTION 'an adapter named % exists already', p_name USING ERRCODE = 'TS409';
    END IF;
    IF EXISTS (SELECT 1 FROM adapters x WHERE x.public_key = p_public_key) THEN
        RAISE EXCEPTION 'that public key is registered already' USING ERRCODE = 'TS409';
    END IF;
    IF p_name !~ '^[A-Za-z0-9._-]{1,64}$' THEN
        RAISE EXCEPTION 'an adapter name is 1 to 64 of A-Z a-z 0-9 . _ -'
            USING ERRCODE = 'TS422';
    END IF;
    INSERT INTO adapters (name, public_key, user_id) VALUES (p_name, p_public_key, u.id)
    RETURNING * INTO a;
    INSERT INTO audit (action, actor_username, detail)
    VALUES ('adapter_add', current_user,
            jsonb_build_object('adapter', a.name, 'adapter_id', a.id, 'user', u.username,
                               'public_key', a.public_key));
    RETURN QUERY SELECT a.id, a.name, u.username, u.role, a.public_key;
END
$$;

CREATE OR REPLACE FUNCTION tocsin_adapter_revoke(p_name text)
RETURNS TABLE (adapter_id integer, name text, revoked_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    a adapters%ROWTYPE;
BEGIN
    UPDATE adapters x SET revoked_at = COALESCE(x.revoked_at, clock_timestamp())
     WHERE x.name = p_name RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no adapter named %', p_name USING ERRCODE = 'TS404';
    END IF;
    INSERT INTO audit (action, actor_username, detail)
    VALUES ('adapter_revoke', current_user,
            jsonb_build_object('adapter', a.name, 'adapter_id', a.id));
    RETURN QUERY SELECT a.id, a.name, a.revoked_at;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_adapter_keys(),
    tocsin_adapter_usable(integer),
    tocsin_adapter_audit(adapters, bigint, text, bigint, bigint, text),
    tocsin_adapter_claim(integer, bigint, text, bigint, text),
    tocsin_bus_publish(integer, bigint, bigint, jsonb, text),
    tocsin_bus_journaled(integer, bigint, bigint),
    tocsin_bus_image(integer, bigint, text, text, bytea, text, text),
    tocsin_bus_report(integer, bigint, text, text, double precision, double precision, text,
                      text, text, jsonb),
    tocsin_adapter_refused(text, text, text, text)
    TO tocsin_broker;
REVOKE EXECUTE ON FUNCTION
    tocsin_adapter_add(text, text, text),
    tocsin_adapter_revoke(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tocsin_adapter_add(text, text, text),
    tocsin_adapter_revoke(text)
    TO tocsin_admin;
