-- 10_tokens.sql: sign-in failures, for the per-account and per-address
-- lockout (tocsin_signin_gate, sql/functions/tokens.sql). Token revocation
-- needs no table of its own: users.disabled and users.tokens_valid_after
-- (02_directory.sql) decide it.

-- Sign-in failures: username as typed, remote address, time.
CREATE TABLE signin_failures (
    id           bigserial PRIMARY KEY,
    username     text NOT NULL,     -- as typed: unknown users count too
    remote_addr  text NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signin_failures_user_idx ON signin_failures (username, at);
CREATE INDEX signin_failures_addr_idx ON signin_failures (remote_addr, at);
CREATE INDEX signin_failures_at_idx ON signin_failures (at);

GRANT SELECT, INSERT, DELETE ON signin_failures TO tocsin_broker;
GRANT USAGE ON SEQUENCE signin_failures_id_seq TO tocsin_broker, tocsin_admin;
