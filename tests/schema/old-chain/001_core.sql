-- 001_core.sql: organisations, sites, users, alerts, deliveries,
-- acknowledgements and the append-only audit trail.
--
-- Run by deploy/migrate.sh as the migration role (a superuser on the local
-- cluster). The broker connects as tocsin_broker, which may read the
-- directory, insert alerts and audit rows, and never update or delete audit.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_broker') THEN
        CREATE ROLE tocsin_broker LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_migrator') THEN
        CREATE ROLE tocsin_migrator NOLOGIN;
    END IF;
END
$$;

CREATE TABLE organisations (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('police', 'police_unit', 'security_company')),
    parent_id   integer REFERENCES organisations (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sectors (
    id    serial PRIMARY KEY,
    code  text NOT NULL UNIQUE,
    name  text NOT NULL
);

CREATE TABLE sites (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    address       text NOT NULL,
    lat           double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon           double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    sector_id     integer NOT NULL REFERENCES sectors (id),
    guard_org_id  integer NOT NULL REFERENCES organisations (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_guard_org_idx ON sites (guard_org_id);

CREATE TABLE users (
    id             serial PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{1,64}$'),
    display_name   text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('controller', 'analyst', 'company_operator',
                                                 'site_console', 'admin')),
    org_id         integer NOT NULL REFERENCES organisations (id),
    site_id        integer REFERENCES sites (id),
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'site_console') = (site_id IS NOT NULL))
);

-- seq is the alert's position in the broker's ordered stream (see
-- docs/protocol.md). It is taken from its own sequence so that the stream
-- can later be ordered independently of the primary key.
CREATE SEQUENCE alert_stream_seq;

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    seq             bigint NOT NULL UNIQUE DEFAULT nextval('alert_stream_seq'),
    sender_user_id  integer NOT NULL REFERENCES users (id),
    sender_org_id   integer NOT NULL REFERENCES organisations (id),
    headline        text NOT NULL CHECK (length(headline) BETWEEN 1 AND 200),
    body            text NOT NULL CHECK (length(body) <= 4000),
    severity        text NOT NULL CHECK (severity IN ('minor', 'moderate', 'severe', 'extreme')),
    targets         jsonb NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The recipients as resolved at publish time: the audit of who was meant
-- to get the alert.
CREATE TABLE alert_recipients (
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    site_id   integer NOT NULL REFERENCES sites (id),
    PRIMARY KEY (alert_id, site_id)
);
CREATE INDEX alert_recipients_site_idx ON alert_recipients (site_id, alert_id);

-- One row per alert frame handed to one console connection.
CREATE TABLE deliveries (
    id            bigserial PRIMARY KEY,
    alert_id      bigint NOT NULL REFERENCES alerts (id),
    site_id       integer REFERENCES sites (id),
    user_id       integer NOT NULL REFERENCES users (id),
    delivered_at  timestamptz NOT NULL
);
CREATE INDEX deliveries_alert_site_idx ON deliveries (alert_id, site_id);

-- The first acknowledgement of each recipient site.
CREATE TABLE acks (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    user_id   integer NOT NULL REFERENCES users (id),
    acked_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

-- The audit trail. No foreign keys: a row must outlive what it names.
CREATE TABLE audit (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    action          text NOT NULL,
    actor_user_id   integer,
    actor_username  text,
    actor_role      text,
    actor_org_id    integer,
    alert_id        bigint,
    site_id         integer,
    remote_addr     text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_alert_idx ON audit (alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX audit_at_idx ON audit (at);

-- Audit rows are never changed: only the migration role (or a superuser,
-- who can do anything anyway) may update or delete them.
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, 'tocsin_migrator', 'MEMBER') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only (% refused for %)', TG_OP, current_user
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Live counts per alert, by site.
CREATE VIEW alert_tallies AS
SELECT a.id AS alert_id,
       a.sender_org_id,
       (SELECT count(*) FROM alert_recipients r WHERE r.alert_id = a.id) AS recipients,
       (SELECT count(DISTINCT d.site_id) FROM deliveries d WHERE d.alert_id = a.id) AS delivered,
       (SELECT count(*) FROM acks k WHERE k.alert_id = a.id) AS acknowledged
FROM alerts a;

-- tocsin_publish: store an alert, resolve and record its recipients, and
-- audit the publish, all in the caller's transaction. Identity comes from
-- p_user_id (the authenticated session), never from the message.
-- Errors carry SQLSTATE TS4xx and the offending field in COLUMN, which the
-- broker turns into a typed error frame.
CREATE FUNCTION tocsin_publish(p_user_id integer, p_headline text, p_body text,
                               p_severity text, p_orgs integer[], p_sites integer[],
                               p_targets jsonb, p_remote text)
RETURNS TABLE (alert_id bigint, seq bigint, sent_at timestamptz, recipient_sites integer[],
               recipient_orgs integer[], sender_org_id integer, sender_org_name text,
               sender_display_name text, sender_user_id integer)
LANGUAGE plpgsql AS $$
DECLARE
    u        users%ROWTYPE;
    missing  integer;
    pos      integer;
    a        alerts%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role NOT IN ('controller', 'analyst') THEN
        RAISE EXCEPTION 'this user may not publish' USING ERRCODE = 'TS403';
    END IF;
    SELECT o, i INTO missing, pos FROM unnest(p_orgs) WITH ORDINALITY AS t(o, i)
     WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE id = t.o) ORDER BY i LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'no organisation with id %', missing
            USING ERRCODE = 'TS404', COLUMN = format('targets.orgs[%s]', pos - 1);
    END IF;
    SELECT s, i INTO missing, pos FROM unnest(p_sites) WITH ORDINALITY AS t(s, i)
     WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = t.s) ORDER BY i LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'no site with id %', missing
            USING ERRCODE = 'TS404', COLUMN = format('targets.sites[%s]', pos - 1);
    END IF;

    INSERT INTO alerts (sender_user_id, sender_org_id, headline, body, severity, targets)
    VALUES (u.id, u.org_id, p_headline, p_body, p_severity, p_targets)
    RETURNING * INTO a;

    INSERT INTO alert_recipients (alert_id, site_id)
    SELECT a.id, s.id FROM sites s
     WHERE s.id = ANY (p_sites) OR s.guard_org_id = ANY (p_orgs);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the targets resolve to no site'
            USING ERRCODE = 'TS422', COLUMN = 'targets';
    END IF;

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, remote_addr, detail)
    VALUES ('publish', u.id, u.username, u.role, u.org_id, a.id, p_remote,
            jsonb_build_object('headline', a.headline, 'severity', a.severity,
                               'targets', a.targets,
                               'recipients', (SELECT jsonb_agg(r.site_id ORDER BY r.site_id)
                                                FROM alert_recipients r WHERE r.alert_id = a.id)));

    RETURN QUERY
    SELECT a.id, a.seq, a.sent_at,
           (SELECT array_agg(r.site_id ORDER BY r.site_id) FROM alert_recipients r
             WHERE r.alert_id = a.id),
           (SELECT array_agg(DISTINCT s.guard_org_id ORDER BY s.guard_org_id)
              FROM alert_recipients r JOIN sites s ON s.id = r.site_id
             WHERE r.alert_id = a.id),
           o.id, o.name, u.display_name, u.id
      FROM organisations o WHERE o.id = u.org_id;
END
$$;

-- tocsin_record_deliveries: store a batch of deliveries (parallel arrays)
-- with one audit row each, and return the new tallies of the alerts
-- concerned.
CREATE FUNCTION tocsin_record_deliveries(p_alerts bigint[], p_sites integer[],
                                         p_users integer[], p_at timestamptz[])
RETURNS TABLE (alert_id bigint, sender_org_id integer, recipients bigint,
               delivered bigint, acknowledged bigint)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (alert_id, site_id, user_id, delivered_at)
    SELECT * FROM unnest(p_alerts, p_sites, p_users, p_at);

    INSERT INTO audit (at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id)
    SELECT d.at, 'deliver', u.id, u.username, u.role, u.org_id, d.alert_id, d.site_id
      FROM unnest(p_alerts, p_sites, p_users, p_at) AS d(alert_id, site_id, user_id, at)
      JOIN users u ON u.id = d.user_id;

    RETURN QUERY
    SELECT t.alert_id, t.sender_org_id, t.recipients, t.delivered, t.acknowledged
      FROM alert_tallies t
     WHERE t.alert_id IN (SELECT DISTINCT x FROM unnest(p_alerts) AS x);
END
$$;

-- tocsin_ack: a site console acknowledges an alert for its site.
CREATE FUNCTION tocsin_ack(p_user_id integer, p_alert_id bigint, p_remote text)
RETURNS TABLE (alert_id bigint, site_id integer, acked_at timestamptz, already boolean,
               sender_org_id integer, recipients bigint, delivered bigint,
               acknowledged bigint)
LANGUAGE plpgsql AS $$
DECLARE
    u      users%ROWTYPE;
    k      acks%ROWTYPE;
    fresh  boolean := false;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user_id AND NOT disabled;
    IF NOT FOUND OR u.role <> 'site_console' THEN
        RAISE EXCEPTION 'this user may not acknowledge' USING ERRCODE = 'TS403';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alerts WHERE id = p_alert_id) THEN
        RAISE EXCEPTION 'no alert with id %', p_alert_id
            USING ERRCODE = 'TS404', COLUMN = 'alert_id';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alert_recipients r
                    WHERE r.alert_id = p_alert_id AND r.site_id = u.site_id) THEN
        RAISE EXCEPTION 'site % was not a recipient of alert %', u.site_id, p_alert_id
            USING ERRCODE = 'TS409', COLUMN = 'alert_id';
    END IF;

    INSERT INTO acks (alert_id, site_id, user_id)
    VALUES (p_alert_id, u.site_id, u.id)
    ON CONFLICT DO NOTHING
    RETURNING * INTO k;
    fresh := FOUND;
    IF NOT fresh THEN
        SELECT * INTO k FROM acks WHERE acks.alert_id = p_alert_id AND acks.site_id = u.site_id;
    END IF;

    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       alert_id, site_id, remote_addr, detail)
    VALUES ('ack', u.id, u.username, u.role, u.org_id, p_alert_id, u.site_id, p_remote,
            jsonb_build_object('first', fresh));

    RETURN QUERY
    SELECT k.alert_id, k.site_id, k.acked_at, NOT fresh,
           t.sender_org_id, t.recipients, t.delivered, t.acknowledged
      FROM alert_tallies t WHERE t.alert_id = p_alert_id;
END
$$;

-- tocsin_signin_lookup: what the sign-in worker needs to check a password.
-- tocsin_audit_signin: the record of the attempt.
CREATE FUNCTION tocsin_audit_signin(p_username text, p_ok boolean, p_reason text,
                                    p_remote text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    SELECT CASE WHEN p_ok THEN 'signin' ELSE 'signin_failed' END,
           u.id, p_username, u.role, u.org_id, p_remote,
           CASE WHEN p_ok THEN '{}'::jsonb ELSE jsonb_build_object('reason', p_reason) END
      FROM (SELECT 1) AS one
      LEFT JOIN users u ON u.username = p_username;
$$;

GRANT SELECT ON organisations, sectors, sites, users TO tocsin_broker;
GRANT SELECT, INSERT ON alerts, alert_recipients, deliveries, acks, audit TO tocsin_broker;
GRANT SELECT ON alert_tallies TO tocsin_broker;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tocsin_broker;
GRANT EXECUTE ON FUNCTION tocsin_publish(integer, text, text, text, integer[], integer[], jsonb, text),
                          tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]),
                          tocsin_ack(integer, bigint, text),
                          tocsin_audit_signin(text, boolean, text, text)
    TO tocsin_broker;
