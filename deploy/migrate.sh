#!/usr/bin/env bash
# deploy/migrate.sh <superuser-url>: bring the database to the schema in sql/.
#
#   sql/schema/NN_*.sql        the baseline: tables, types, views, indexes,
#                              grants and triggers, applied once, to an
#                              empty database (recorded as "baseline");
#   sql/migrations/NNN_*.sql   table changes made after the first release,
#                              each once, in order (recorded by file name
#                              without .sql);
#   sql/functions/*.sql        every function, each defined once, re-applied
#                              on every run (CREATE OR REPLACE), with its
#                              grants. triggers.sql goes first, before the
#                              baseline and the migrations, because the
#                              tables' triggers name its functions.
#
# Everything runs in one transaction: the database has all of it or none.
# What was applied is recorded in the table schema_migrations (version,
# applied_at). Prints what it did. Safe to run again.
#
# A database made by the numbered migrations that came before sql/schema
# (schema_migrations lists 001_core ... 031_status_batch_one_pass: a var/
# from `make run` of that time) is recognised: the baseline is recorded as
# applied, what the baseline no longer has is dropped (below), and the
# functions are applied as on any run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SQLDIR="$ROOT/sql"

die() { echo "migrate: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: deploy/migrate.sh <superuser-url>" >&2; exit 2; }
URL="$1"

run_psql() {
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -v ON_ERROR_STOP=1 -d "$URL" "$@"
}

# The migrations that came before sql/schema, all of which a database must
# have had for the baseline to stand in for them.
DIARY=(001_core 002_stream 004_status 005_images 006_alert_model 007_audit_chain
       008_receipt_batch 009_delivered_sites 010_exactly_once 011_token_lifecycle
       012_adapters 013_cap 014_admin 015_audit_s62 016_access_fixes 017_delivery_fast
       018_user_update 019_cap_token_gate 020_operator_receipts 021_site_history
       022_status_batch 023_delivery_batches 024_hello_resume_batch
       025_receipt_batch_fast 026_recipients_fast 027_resume_probe_no_jit
       028_receipts_status_fast 029_audit_detail_lz4 030_delivery_runs
       031_status_batch_one_pass)

# What such a database has that the baseline has not: the delivery records
# of the one-row-per-delivery release that never shipped (table
# delivery_rows, kept by 023) and the view deliveries that joined them to
# delivery_batches. Everything reads delivery_batches now.
DIARY_REMOVALS='DROP VIEW IF EXISTS deliveries;
DROP TABLE IF EXISTS delivery_rows;'

run_psql -c "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version     text PRIMARY KEY,
                 applied_at  timestamptz NOT NULL DEFAULT now())" \
    || die "cannot reach the database or create schema_migrations"

applied="$(run_psql -tA -c "SELECT version FROM schema_migrations")"
is_applied() { grep -qxF -- "$1" <<<"$applied"; }

shopt -s nullglob
export LC_ALL=C        # glob order is byte order: 01 < 02 < ... < 10
baseline=("$SQLDIR"/schema/[0-9][0-9]_*.sql)
migrations=("$SQLDIR"/migrations/[0-9][0-9][0-9]_*.sql)
functions=("$SQLDIR"/functions/*.sql)
(( ${#baseline[@]} )) || die "no baseline in $SQLDIR/schema"
[[ -f "$SQLDIR/functions/triggers.sql" ]] || die "no $SQLDIR/functions/triggers.sql"

# Two migrations with the same number are a merge accident: refuse.
dups="$(for f in "${migrations[@]}"; do b="${f##*/}"; echo "${b:0:3}"; done | uniq -d)"
[[ -z "$dups" ]] || die "two migrations share the number(s): $dups"

args=(--single-transaction)
# One run at a time: a second waits here, then finds the first one's work.
args+=(-c "DO \$\$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('tocsin deploy/migrate.sh')); END \$\$")
args+=(-f "$SQLDIR/functions/triggers.sql")
said=()

if is_applied baseline; then
    :
else
    diary_seen=0 diary_missing=()
    for v in "${DIARY[@]}"; do
        if is_applied "$v"; then diary_seen=$((diary_seen + 1)); else diary_missing+=("$v"); fi
    done
    if (( diary_seen == ${#DIARY[@]} )); then
        old_rows="$(run_psql -tA -c "SELECT CASE WHEN to_regclass('delivery_rows') IS NULL
                                               THEN 0 ELSE (SELECT count(*) FROM delivery_rows) END")" \
            || die "cannot read delivery_rows"
        # The row goes in first: a concurrent run waits on the primary key
        # and then fails instead of doing it twice.
        args+=(-c "INSERT INTO schema_migrations (version) VALUES ('baseline')" -c "$DIARY_REMOVALS")
        said+=("made by the migrations ${DIARY[0]} ... ${DIARY[-1]}: recorded the baseline (sql/schema) as applied"
               "dropped the view deliveries and the table delivery_rows ($old_rows rows of the release that never shipped)")
    elif (( diary_seen > 0 )); then
        die "this database has only some of the migrations that came before sql/schema (missing: ${diary_missing[*]});
the baseline stands in for all of them, not for some: start it afresh (for make run: stop it, rm -rf var/, make run)"
    else
        others="$(run_psql -tA -c "SELECT count(*) FROM pg_class c
                                      JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE n.nspname = 'public' AND c.relname <> 'schema_migrations'
                                       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")"
        [[ "$others" == 0 ]] || die "this database holds tables that migrate.sh did not make (no baseline in schema_migrations): refusing to apply the baseline over them"
        args+=(-c "INSERT INTO schema_migrations (version) VALUES ('baseline')")
        for f in "${baseline[@]}"; do args+=(-f "$f"); done
        said+=("empty database: applied the baseline (sql/schema, ${#baseline[@]} files)")
    fi
fi

for f in "${migrations[@]}"; do
    version="$(basename "$f" .sql)"
    [[ "$version" =~ ^[0-9]{3}_[A-Za-z0-9_.-]+$ ]] || die "bad migration file name: ${f##*/}"
    is_applied "$version" && continue
    args+=(-c "INSERT INTO schema_migrations (version) VALUES ('$version')" -f "$f")
    said+=("applied the migration $version")
done

# The functions in any order: a body is checked once every function exists
# (a SQL function's body names tables and other functions, which
# check_function_bodies would otherwise require to exist already). Then
# every function of the schema goes through its language's validator, as
# CREATE FUNCTION would have done: ours, not an extension's (PostGIS, in
# public since 047_crime_records, has C aggregates no validator accepts).
args+=(-c "SET LOCAL check_function_bodies = off")
for f in "${functions[@]}"; do
    [[ "$f" == "$SQLDIR/functions/triggers.sql" ]] || args+=(-f "$f")
done
args+=(-c "SET LOCAL check_function_bodies = on"
       -c "DO \$\$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid, l.lanvalidator FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'public'::regnamespace AND l.lanvalidator <> 0
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                   AND d.deptype = 'e') LOOP
        BEGIN
            EXECUTE format('SELECT %s(%s)', f.lanvalidator::regproc, f.oid);
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION '%: %', f.oid::regprocedure, SQLERRM;
        END;
    END LOOP;
END
\$\$")

run_psql "${args[@]}" || die "failed; nothing was applied"

(( ${#said[@]} )) || said=("schema up to date (baseline and every migration applied)")
for s in "${said[@]}"; do echo "migrate: $s"; done
nfun="$(run_psql -tA -c "SELECT count(*) FROM pg_proc p WHERE pronamespace = 'public'::regnamespace
                           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                              AND d.objid = p.oid AND d.deptype = 'e')")"
echo "migrate: applied the functions (sql/functions, ${#functions[@]} files; $nfun functions in the database)"
