-- 039_refresh_credentials.sql: the consoles keep no token in the browser's
-- storage (issue 16). They kept the token, and the alerts they had shown,
-- OFFICIAL-SENSITIVE text included, in sessionStorage, where any script of
-- the page and anyone at the device's disk could read them. Now sign-in
-- also sets an HttpOnly, SameSite=Strict cookie (Path=/api) holding a
-- refresh credential, and a page that starts (or reloads) without a token
-- asks POST /api/refresh for one (sql/functions/tokens.sql:
-- tocsin_refresh_issue, tocsin_refresh_use, tocsin_refresh_revoke). The
-- database keeps only a hash of the credential's secret; a credential
-- lasts at most its expires_at, ends at sign-out, and is revoked with the
-- account's tokens (tokens_valid_after, users.disabled).
CREATE TABLE refresh_credentials (
    id           bigserial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES users (id),
    secret_hash  bytea NOT NULL,         -- SHA-256 of the cookie's secret
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    remote_addr  text
);
CREATE INDEX refresh_credentials_user_idx ON refresh_credentials (user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_credentials TO tocsin_broker;
GRANT USAGE ON SEQUENCE refresh_credentials_id_seq TO tocsin_broker;
