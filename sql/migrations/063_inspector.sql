-- 063_inspector.sql: the duty inspector (issue 23). A force may give the
-- second person of a two-person release to a duty inspector rather than
-- (or as well as) another controller: a role that sees every pending
-- release live, approves or rejects one (never their own: an inspector
-- publishes nothing), and is given nothing else of a controller's powers
-- (every handler and SQL function names the roles it serves, and none
-- names this one but the release's).
--
-- users.role takes 'inspector' (tocsinctl user add --role inspector).
-- release_policy.approver says who may be the second person: 'controller'
-- (the default, as before: another controller, or an inspector) or
-- 'inspector' (an inspector only; tocsinctl policy set --approver,
-- audited as release_policy_set). One row; nothing to backfill.

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('controller', 'analyst', 'company_operator', 'site_console', 'admin',
                    'inspector'));

ALTER TABLE release_policy ADD COLUMN approver text NOT NULL DEFAULT 'controller'
    CHECK (approver IN ('controller', 'inspector'));

-- Their arguments or results change (sql/functions/release.sql makes them
-- again): the policy's answer names who may approve, and policy set sets it.
DROP FUNCTION IF EXISTS tocsin_release_check(integer, jsonb);
DROP FUNCTION IF EXISTS tocsin_release_policy_set(text, text[], integer, boolean, boolean, integer);
