-- 01_roles.sql: the roles. Roles belong to the cluster, not to the
-- database, so each is created only when it is missing.
--
--   tocsin_migrator  NOLOGIN. Its members (and superusers) may update or
--                    delete audit rows, seals and delivery batches, which
--                    everyone else may only append (audit_refuse_change).
--   tocsin_broker    LOGIN: the broker. Reads the directory, inserts alerts,
--                    receipts, delivery records and audit rows, and runs the
--                    tocsin_* functions; never updates or deletes audit.
--   tocsin_admin     LOGIN: tocsinctl. A member of tocsin_broker, so it reads
--                    what the broker reads, and the only role that may run
--                    the tocsin_admin_* functions (sql/functions/admin.sql).
--
-- The migration role (a superuser, e.g. postgres on the local cluster)
-- owns every object; deploy/migrate.sh connects as it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_broker') THEN
        CREATE ROLE tocsin_broker LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_migrator') THEN
        CREATE ROLE tocsin_migrator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tocsin_admin') THEN
        CREATE ROLE tocsin_admin LOGIN;
    END IF;
END
$$;

GRANT tocsin_broker TO tocsin_admin;

-- No JIT for the broker (issue 6). PostgreSQL compiles a query to machine
-- code (LLVM) when its estimated cost passes jit_above_cost. Once the
-- tables hold a few hundred thousand recipient rows, the estimates of the
-- batched resume (tocsin_resume_batch) and of the tallies in the batched
-- receipts (tocsin_receipt_batch_fast) pass all three JIT thresholds, and
-- compiling with inlining and optimisation took about 520 ms per query,
-- for queries that run in 5 to 70 ms. `make bench` with auto_explain
-- showed it: each batch of 500 resumes took 560 to 740 ms during the
-- reconnect storm (13.8 s for 10,000 consoles), and each receipt batch of
-- about 300 acknowledgements 300 to 480 ms. JIT pays off only for long
-- analytical queries; the broker runs none. A role setting applies to
-- every session the role opens from then on (the broker connects as
-- tocsin_broker), so it needs no broker code and shows in `\drds`.
ALTER ROLE tocsin_broker SET jit = off;
