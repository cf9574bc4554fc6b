-- 038_signin_gate.sql: the sign-in lockout is per account and address
-- together, with a growing delay for the account alone (issue 16), so
-- tocsin_signin_gate takes the delay's cap too (sql/functions/tokens.sql
-- makes the new one). Five wrong passwords from anywhere locked an account
-- for 15 minutes: anyone could lock the controller out.
DROP FUNCTION IF EXISTS tocsin_signin_gate(text, text, integer, integer, integer);
-- A good password clears the failures of its account from its address only
-- (the owner's sign-in must not lift a stranger's lockout).
DROP FUNCTION IF EXISTS tocsin_signin_succeeded(text);
