-- 02_directory.sql: who and where. Organisations (the force, its units,
-- the security companies), sectors, the sites the companies guard and the
-- users who sign in. The broker only reads the directory; tocsinctl
-- changes it through the tocsin_admin_* functions (sql/functions/admin.sql).
--
-- Nothing here is ever deleted: organisations, sites and users are
-- disabled instead, because alerts, receipts, delivery records and audit
-- rows name them and must outlive any change.

CREATE TABLE organisations (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('police', 'police_unit', 'security_company')),
    parent_id   integer REFERENCES organisations (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Disabling an organisation disables every user of it (their sessions
    -- close); its sites stay, as buildings do.
    disabled    boolean NOT NULL DEFAULT false
);

CREATE TABLE sectors (
    id    serial PRIMARY KEY,
    code  text NOT NULL UNIQUE,
    name  text NOT NULL
);

CREATE TABLE sites (
    id                 serial PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    address            text NOT NULL,
    lat                double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon                double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    sector_id          integer NOT NULL REFERENCES sectors (id),
    guard_org_id       integer NOT NULL REFERENCES organisations (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    -- Cleared for OFFICIAL-SENSITIVE alerts: a site that is not is left out
    -- of them (tocsin_resolve_targets).
    cleared_sensitive  boolean NOT NULL DEFAULT false,
    -- A disabled site is left out of every alert and its consoles are
    -- disabled (tocsin_admin_site_disable).
    disabled           boolean NOT NULL DEFAULT false,
    -- A site's short name: its console devices are named console.<slug>.
    slug               text UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$')
);
CREATE INDEX sites_guard_org_idx ON sites (guard_org_id);

CREATE TABLE users (
    id                  serial PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{1,64}$'),
    display_name        text NOT NULL,
    password_hash       text NOT NULL,
    role                text NOT NULL CHECK (role IN ('controller', 'analyst', 'company_operator',
                                                      'site_console', 'admin')),
    org_id              integer NOT NULL REFERENCES organisations (id),
    site_id             integer REFERENCES sites (id),
    disabled            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- Cleared for OFFICIAL-SENSITIVE alerts.
    cleared_sensitive   boolean NOT NULL DEFAULT false,
    -- Tokens issued before this are revoked (docs/protocol.md, "Token
    -- lifecycle"; the rule is with tocsin_token_floor in
    -- sql/functions/tokens.sql). NULL: none revoked.
    tokens_valid_after  timestamptz,
    CHECK ((role = 'site_console') = (site_id IS NOT NULL))
);

-- Disabling a user also revokes their tokens, so that enabling the account
-- again does not bring back the tokens it held (users_disable_revokes).
CREATE TRIGGER users_disable_revokes BEFORE UPDATE OF disabled ON users
    FOR EACH ROW EXECUTE FUNCTION users_disable_revokes();

-- A site without a slug takes its console user's (console.<slug>) when that
-- user is added: the demo data adds sites, then their consoles
-- (tocsin_slug_from_console).
CREATE TRIGGER users_site_slug AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION tocsin_slug_from_console();

GRANT SELECT ON organisations, sectors, sites, users TO tocsin_broker;
GRANT USAGE ON SEQUENCE organisations_id_seq, sectors_id_seq, sites_id_seq, users_id_seq
    TO tocsin_broker, tocsin_admin;
