-- 037_account_changes.sql: the revocation sweep asks what changed, not
-- about every session (issue 16).
--
-- The sweep (broker/session/revocation.c) sent the (user, iat) of every
-- signed-in session to tocsin_revoked every 2 s: at 19,000 idle consoles
-- that was two 19,000-element arrays (265 KB of parameters) and a join of
-- 19,000 rows with users, 90 to 120 ms of PostgreSQL every 2 s, to find
-- that nothing had changed (timed in psql on the demo database; an idle
-- sweep now takes 0.2 to 0.3 ms). Now a trigger on users writes a row here for every account
-- whose tokens' worth changed (disabled, tokens_valid_after bumped, role,
-- organisation, site or clearance changed; deleted), and the sweep asks
-- tocsin_account_changes for the accounts changed since its last look,
-- by transaction id (xid8), so that a change that commits late is never
-- skipped: it then checks the sessions of those accounts only. A change
-- made by hand in SQL is seen too, which the admin functions' revocation
-- alone did not. Rows older than a day are dropped by the trigger (a
-- broker that has not swept for an hour checks every session again).
CREATE TABLE account_changes (
    user_id  integer NOT NULL,
    xid      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX account_changes_xid_idx ON account_changes (xid);
CREATE INDEX account_changes_at_idx ON account_changes (at);
GRANT SELECT ON account_changes TO tocsin_broker;

CREATE TRIGGER users_changes_logged AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tocsin_account_changed();

-- Every session's (user, iat) is no longer sent: tocsin_account_changes and
-- tocsin_token_check_batch (sql/functions/tokens.sql) replace it.
DROP FUNCTION IF EXISTS tocsin_revoked(integer[], bigint[]);
