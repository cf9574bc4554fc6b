-- 036_token_claims.sql: hello checks the token's claims against the users
-- row (issue 16), so tocsin_token_check_batch takes the claims too
-- (sql/functions/tokens.sql makes the new one). Until then hello asked only
-- whether the token was revoked, and a token whose role, organisation, site
-- or clearance disagreed with the row (the row changed by hand in SQL, or a
-- token signed by someone else with the broker's key) was welcomed and saw
-- what its claims said.
DROP FUNCTION IF EXISTS tocsin_token_check_batch(integer[], bigint[]);
