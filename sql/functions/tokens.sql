-- tokens.sql: revoking tokens, and rate-limiting sign-in.
--
-- Revocation (docs/protocol.md, "Token lifecycle"): a token is revoked when
-- its user is disabled, or when it was issued before the user's
-- tokens_valid_after. Tokens carry iat in whole seconds, so a token is
-- valid only if iat >= ceil(epoch(tokens_valid_after)): a token issued in
-- the same second as the bump, before or after it, is treated as revoked
-- (fail closed), and the broker issues new tokens with iat no earlier than
-- that second (see tocsin_token_floor), so a sign-in right after a bump
-- still works. De-registering a console device is disabling its user (one
-- user per site console), or bumping tokens_valid_after to end its current
-- sessions while keeping the account. Disabling a user bumps it too
-- (users_disable_revokes, sql/functions/triggers.sql), so that enabling the
-- account again does not bring back the tokens it held. The broker's
-- revocation sweep (broker/session/revocation.c, tocsin_account_changes)
-- closes the live sessions of revoked tokens within seconds; the HTTP endpoints check the
-- token of each request (tocsin_token_gate, tocsin_image_*_token,
-- tocsin_cap_export_token).
--
-- Sign-in failures are kept in signin_failures (username as typed, remote
-- address, time; sql/schema/10_tokens.sql) for the lockout per account and
-- address, per address, and the account's growing delay.

-- The earliest iat a valid token of a user may carry (Unix seconds); 0
-- when nothing was revoked.
CREATE OR REPLACE FUNCTION tocsin_token_floor(p_valid_after timestamptz)
RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(ceil(extract(epoch FROM p_valid_after))::bigint, 0);
$$;

-- tocsin_account_changes: the accounts changed since p_since (a horizon
-- this function gave before; NULL: none, only a horizon), and the horizon
-- to ask from next time. The broker's revocation sweep calls it every 2 s
-- and checks (tocsin_token_check_batch) only the sessions of those
-- accounts: an idle sweep sends one xid8 and gets an empty array back,
-- whatever the number of sessions.
--
-- The horizon is the xmin of the current snapshot: every transaction with
-- a lower id has ended, so every change with xid < horizon that committed
-- is visible now; a change whose transaction is still running, or ends
-- later, has xid >= horizon and is read next time (again, maybe: a
-- duplicate is harmless). Asking by time or by a sequence instead would
-- skip a change whose transaction took its number first and committed
-- after the sweep had moved past it.
CREATE OR REPLACE FUNCTION tocsin_account_changes(p_since xid8)
RETURNS TABLE (horizon xid8, users integer[])
LANGUAGE sql STABLE AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot()),
           ARRAY(SELECT DISTINCT c.user_id FROM account_changes c
                  WHERE p_since IS NOT NULL AND c.xid >= p_since ORDER BY 1);
$$;

-- tocsin_token_check: may a session holding a token of p_user issued at
-- p_iat have a new one? status is 'ok', 'disabled', 'revoked' or
-- 'deleted'; with the user's current role, org, site and clearance (a
-- refresh keeps the identity, so a changed account must sign in again) and
-- the earliest iat a new token may carry.
CREATE OR REPLACE FUNCTION tocsin_token_check(p_user integer, p_iat bigint)
RETURNS TABLE (status text, role text, org_id integer, site_id integer,
               cleared boolean, iat_floor bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN u.id IS NULL THEN 'deleted'
                WHEN u.disabled THEN 'disabled'
                WHEN p_iat < tocsin_token_floor(u.tokens_valid_after) THEN 'revoked'
                ELSE 'ok' END,
           u.role, u.org_id, u.site_id, COALESCE(u.cleared_sensitive, false),
           tocsin_token_floor(u.tokens_valid_after)
      FROM (SELECT 1) AS one
      LEFT JOIN users u ON u.id = p_user;
$$;

-- tocsin_token_check_batch: tocsin_token_check for each token (user, iat
-- and its claims: role, org, site, clearance), one row per element, idx
-- from 1 in the arrays' order: hello's check for many sessions in one
-- query, and the revocation sweep's for the sessions of changed accounts.
-- status is tocsin_token_check's, or 'changed' when the token is good but
-- its claims are not the users row's: such a token would widen what the
-- session sees (a row changed by hand, or a token signed by someone else
-- with the broker's key), so it is refused like a revoked one. A site of
-- NULL is a token without a site. Under a reconnect storm thousands of
-- consoles send hello within a second; the broker collects those arriving
-- within a couple of milliseconds (broker/batch_queue.c) and asks once
-- for all of them: one statement, one plan and one result instead of one
-- each. It only calls tocsin_token_check once per element, so the rule of
-- what is revoked stays in one place.
CREATE OR REPLACE FUNCTION tocsin_token_check_batch(p_users integer[], p_iats bigint[],
                                                    p_roles text[], p_orgs integer[],
                                                    p_sites integer[], p_cleared boolean[])
RETURNS TABLE (idx integer, status text)
LANGUAGE sql STABLE AS $$
    SELECT x.idx::integer,
           CASE WHEN c.status <> 'ok' THEN c.status
                WHEN c.role IS DISTINCT FROM x.role OR c.org_id IS DISTINCT FROM x.org_id
                  OR c.site_id IS DISTINCT FROM x.site_id
                  OR c.cleared IS DISTINCT FROM x.cleared THEN 'changed'
                ELSE 'ok' END
      FROM unnest(p_users, p_iats, p_roles, p_orgs, p_sites, p_cleared)
           WITH ORDINALITY AS x(user_id, iat, role, org_id, site_id, cleared, idx)
     CROSS JOIN LATERAL tocsin_token_check(x.user_id, x.iat) c
     ORDER BY x.idx;
$$;

-- The token of p_user issued at p_iat is still good (not revoked, user
-- enabled and present), or TS401 naming why.
CREATE OR REPLACE FUNCTION tocsin_token_gate(p_user integer, p_iat bigint)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT c.status INTO v FROM tocsin_token_check(p_user, p_iat) c;
    IF v IS DISTINCT FROM 'ok' THEN
        RAISE EXCEPTION 'the token is no longer valid (%); sign in again', v
            USING ERRCODE = 'TS401';
    END IF;
END
$$;

-- tocsin_revoke_tokens: ends every token a user holds now (their live
-- sessions close within seconds) without disabling the account.
CREATE OR REPLACE FUNCTION tocsin_revoke_tokens(p_username text)
RETURNS void
LANGUAGE sql AS $$
    UPDATE users SET tokens_valid_after = clock_timestamp() WHERE username = p_username;
$$;

-- tocsin_signin_gate: may this attempt have its password checked? Three
-- limits over the failures of the last p_minutes, each answered 429
-- locked_out with retry_after (seconds) and its scope, without a password
-- check:
--   account_address  p_account_max failures of this account from this
--                    address: until the oldest of them leaves the window;
--   address          p_address_max failures from this address, any
--                    account: likewise;
--   account          p_account_max or more failures of this account from
--                    anywhere: a delay after its last failure, 1 s, then
--                    doubling with each failure, at most p_delay_max s.
-- Until issue 16 the account alone was locked for p_minutes after
-- p_account_max failures from anywhere: five wrong passwords let anyone
-- lock the controller out for 15 minutes. Now a stranger locks only its own
-- address out of the account, and the owner waits at most p_delay_max
-- seconds for the account's delay; a guesser from many addresses gets one
-- guess per delay, p_delay_max apart once it has guessed a few times.
-- Cheap: index range scans, so a locked-out guesser costs no argon2.
CREATE OR REPLACE FUNCTION tocsin_signin_gate(p_username text, p_remote text, p_account_max integer,
                                              p_address_max integer, p_minutes integer,
                                              p_delay_max integer)
RETURNS TABLE (locked boolean, retry_after integer, scope text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    now_ts      timestamptz := clock_timestamp();
    since       timestamptz := now_ts - make_interval(mins => p_minutes);
    pair_until  timestamptz;
    addr_until  timestamptz;
    acct_until  timestamptz;
    n           integer;
    last_at     timestamptz;
    v_until     timestamptz;
    v_scope     text;
BEGIN
    -- The p_account_max-th most recent failure of the pair, and the
    -- p_address_max-th of the address: each lockout ends when it leaves
    -- the window.
    SELECT f.at + make_interval(mins => p_minutes) INTO pair_until
      FROM signin_failures f
     WHERE f.username = p_username AND f.remote_addr = p_remote AND f.at > since
     ORDER BY f.at DESC OFFSET p_account_max - 1 LIMIT 1;
    SELECT f.at + make_interval(mins => p_minutes) INTO addr_until
      FROM signin_failures f
     WHERE f.remote_addr = p_remote AND f.at > since
     ORDER BY f.at DESC OFFSET p_address_max - 1 LIMIT 1;
    SELECT count(*), max(f.at) INTO n, last_at
      FROM signin_failures f
     WHERE f.username = p_username AND f.at > since;
    IF n >= p_account_max THEN
        acct_until := last_at + make_interval(secs => least(power(2, least(n - p_account_max, 20)),
                                                           p_delay_max));
    END IF;
    SELECT x.u, x.s INTO v_until, v_scope
      FROM (VALUES (pair_until, 'account_address'), (addr_until, 'address'),
                   (acct_until, 'account')) AS x(u, s)
     WHERE x.u > now_ts
     ORDER BY x.u DESC LIMIT 1;
    IF v_until IS NULL THEN
        RETURN QUERY SELECT false, 0, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT true, greatest(1, ceil(extract(epoch FROM v_until - now_ts)))::integer,
                        v_scope;
END
$$;

-- tocsin_signin_failed: counts a failed sign-in, and forgets failures
-- older than a day (no lockout window is longer).
CREATE OR REPLACE FUNCTION tocsin_signin_failed(p_username text, p_remote text)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM signin_failures WHERE at < clock_timestamp() - interval '1 day';
    INSERT INTO signin_failures (username, remote_addr) VALUES (p_username, p_remote);
$$;

-- tocsin_signin_succeeded: a good password clears the account's failures
-- from that address (not from others: the owner signing in must not lift a
-- stranger's lockout; nor the address's failures for other accounts: one
-- good account must not unlock guessing others).
CREATE OR REPLACE FUNCTION tocsin_signin_succeeded(p_username text, p_remote text)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM signin_failures WHERE username = p_username AND remote_addr = p_remote;
$$;

-- tocsin_audit_signin: the record of a sign-in attempt.
CREATE OR REPLACE FUNCTION tocsin_audit_signin(p_username text, p_ok boolean, p_reason text,
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

-- tocsin_audit_signin_locked: the record of a refused (locked-out) attempt.
CREATE OR REPLACE FUNCTION tocsin_audit_signin_locked(p_username text, p_remote text, p_scope text,
                                                      p_retry_after integer)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       remote_addr, detail)
    SELECT 'signin_locked', u.id, p_username, u.role, u.org_id, p_remote,
           jsonb_build_object('scope', p_scope, 'retry_after', p_retry_after)
      FROM (SELECT 1) AS one
      LEFT JOIN users u ON u.username = p_username;
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_token_floor(timestamptz),
    tocsin_account_changes(xid8),
    tocsin_token_check(integer, bigint),
    tocsin_token_check_batch(integer[], bigint[], text[], integer[], integer[], boolean[]),
    tocsin_token_gate(integer, bigint),
    tocsin_signin_gate(text, text, integer, integer, integer, integer),
    tocsin_signin_failed(text, text),
    tocsin_signin_succeeded(text, text),
    tocsin_audit_signin(text, boolean, text, text),
    tocsin_audit_signin_locked(text, text, text, integer)
    TO tocsin_broker;

-- ---------------------------------------------------------------- the consoles' refresh cookie
--
-- A console page keeps its token in memory only; a reload starts without
-- one and asks POST /api/refresh, which the browser sends with the
-- HttpOnly cookie set at sign-in (sql/migrations/039_refresh_credentials.sql).
-- The cookie holds "<id>.<secret>"; the database has only SHA-256(secret).

-- A new credential for a user who has just signed in (its secret's hash),
-- lasting p_ttl seconds. Returns its id. The sign-in's audit row says so
-- (tocsin_audit_signin); no row of its own.
CREATE OR REPLACE FUNCTION tocsin_refresh_issue(p_user_id integer, p_hash bytea, p_ttl integer,
                                                p_remote text)
RETURNS bigint
LANGUAGE sql AS $$
    DELETE FROM refresh_credentials WHERE expires_at < clock_timestamp() - interval '1 day';
    INSERT INTO refresh_credentials (user_id, secret_hash, expires_at, remote_addr)
    VALUES (p_user_id, p_hash, clock_timestamp() + make_interval(secs => p_ttl), p_remote)
    RETURNING id;
$$;

-- POST /api/refresh: the credential p_id with the secret hashing to
-- p_hash. status 'ok' with the user's row (what the broker signs a token
-- for) when it exists, matches, is neither revoked nor expired, its user is
-- enabled and it was issued after the user's tokens_valid_after (revoking
-- the tokens revokes the credential); else 'revoked'. Audited: a 'signin'
-- row with detail {"via": "refresh"}, or 'signin_failed' with the reason.
CREATE OR REPLACE FUNCTION tocsin_refresh_use(p_id bigint, p_hash bytea, p_remote text)
RETURNS TABLE (status text, user_id integer, username text, display_name text, role text,
               org_id integer, org_name text, site_id integer, site_name text,
               cleared boolean, iat_floor bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c  refresh_credentials%ROWTYPE;
    u  users%ROWTYPE;
    why text;
BEGIN
    SELECT * INTO c FROM refresh_credentials r WHERE r.id = p_id;
    SELECT * INTO u FROM users x WHERE x.id = c.user_id;
    why := CASE WHEN c.id IS NULL OR c.secret_hash <> p_hash THEN 'unknown credential'
                WHEN c.revoked_at IS NOT NULL THEN 'signed out'
                WHEN c.expires_at <= clock_timestamp() THEN 'credential expired'
                WHEN u.id IS NULL OR u.disabled THEN 'disabled'
                WHEN c.created_at < u.tokens_valid_after THEN 'revoked'
           END;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    VALUES (CASE WHEN why IS NULL THEN 'signin' ELSE 'signin_failed' END,
            u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
            jsonb_build_object('via', 'refresh', 'credential', p_id)
            || CASE WHEN why IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', why) END);
    IF why IS NOT NULL THEN
        RETURN QUERY SELECT 'revoked'::text, NULL::integer, NULL::text, NULL::text, NULL::text,
                            NULL::integer, NULL::text, NULL::integer, NULL::text, NULL::boolean,
                            NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT 'ok'::text, u.id, u.username, u.display_name, u.role, u.org_id, o.name, u.site_id,
           s.name, COALESCE(u.cleared_sensitive, false), tocsin_token_floor(u.tokens_valid_after)
      FROM organisations o LEFT JOIN sites s ON s.id = u.site_id
     WHERE o.id = u.org_id;
END
$$;

-- POST /api/logout: the credential ends now (when the secret matches),
-- audited as 'signout'. Returns whether there was one to end.
CREATE OR REPLACE FUNCTION tocsin_refresh_revoke(p_id bigint, p_hash bytea, p_remote text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    c refresh_credentials%ROWTYPE;
BEGIN
    UPDATE refresh_credentials r SET revoked_at = clock_timestamp()
     WHERE r.id = p_id AND r.secret_hash = p_hash AND r.revoked_at IS NULL
    RETURNING * INTO c;
    IF c.id IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO audit (action, actor_user_id, actor_username, actor_role, actor_org_id,
                       site_id, remote_addr, detail)
    SELECT 'signout', u.id, u.username, u.role, u.org_id, u.site_id, p_remote,
           jsonb_build_object('credential', c.id)
      FROM users u WHERE u.id = c.user_id;
    RETURN true;
END
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_refresh_issue(integer, bytea, integer, text),
    tocsin_refresh_use(bigint, bytea, text),
    tocsin_refresh_revoke(bigint, bytea, text)
    TO tocsin_broker;
