-- 09_bus.sql: adapters on the ZeroMQ bus (docs/bus.md).
--
-- An adapter is a CURVE public key bound to a user: what it submits carries
-- that user's identity, org and role. adapter_submissions remembers every
-- (adapter, seq) accepted, so an adapter that resends after a crash gets the
-- first outcome back instead of publishing twice (tocsin_bus_publish and
-- tocsin_bus_report, sql/functions/bus.sql).
--
-- Registering and revoking (tocsinctl adapter ...) is for the migration
-- role and tocsin_admin; the broker only reads the keys, records
-- submissions and audits refusals.

CREATE TABLE adapters (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    public_key  text NOT NULL UNIQUE CHECK (length(public_key) = 40),
    user_id     integer NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at  timestamptz
);

CREATE TABLE adapter_submissions (
    adapter_id  integer NOT NULL REFERENCES adapters (id),
    seq         bigint NOT NULL CHECK (seq > 0),
    kind        text NOT NULL CHECK (kind IN ('publish', 'report')),
    alert_id    bigint,
    report_id   bigint,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (adapter_id, seq)
);

GRANT SELECT ON adapters TO tocsin_broker;
GRANT SELECT, INSERT, UPDATE ON adapter_submissions TO tocsin_broker;
-- tocsinctl adapter add|revoke (tocsin_adapter_add, tocsin_adapter_revoke)
-- run as the caller and name current_user in the audit: tocsin_admin may
-- run them, and so needs the table and its sequence.
GRANT SELECT, INSERT, UPDATE ON adapters TO tocsin_admin;
GRANT USAGE ON SEQUENCE adapters_id_seq TO tocsin_admin;
