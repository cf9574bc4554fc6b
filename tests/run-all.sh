#!/usr/bin/env bash
# tests/run-all.sh [E2E-FILE...]
#
# The body of `make test`, after the build:
#   1. the C unit tests (build/unit/test_*), through tests/run-unit.sh,
#      and the checks of the tree (tests/checks/*.sh, each exit 0 = passed:
#      the layers of broker/, ...);
#   2. one private PostgreSQL under build/test-var, made afresh: migrated,
#      demo data loaded, database `tocsin` marked as the template that every
#      e2e test file copies into a database of its own;
#   3. the schema checks (tests/schema/): no SQL function defined twice
#      under sql/ (functions-once.test.sh), and sql/ against the migrations
#      it replaced, in scratch databases (compare.sh);
#   4. the end-to-end tests (tests/e2e/*.test.mjs) with node's test runner,
#      one file at a time;
#   5. PostgreSQL stopped (also on any exit);
#   6. a last line "N passed, N failed" (unit + checks + schema + e2e),
#      exit 1 if anything failed.
#
# With E2E-FILE arguments only those e2e files run and the unit tests and
# schema checks are skipped, e.g.
#   tests/run-all.sh tests/e2e/02-publish-ack.test.mjs
#
# Environment: TOCSIN_BROKER names the broker binary (default build/san/tocsind);
# TOCSIN_KEEP_PG=1 leaves PostgreSQL running afterwards (for poking at the
# per-file databases t_*); TOCSIN_E2E_TIMEOUT_MS bounds each test file.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

VAR="${TOCSIN_TEST_VAR:-$ROOT/build/test-var}"  # override to run beside another suite
OUT="${TOCSIN_TEST_OUTPUT:-$ROOT/tests/output}"  # logs, TAP and screenshots
PG_LOCAL="$ROOT/deploy/pg-local.sh"

unit_passed=0
unit_failed=0
checks_passed=0
checks_failed=0
schema_passed=0
schema_failed=0
e2e_passed=0
e2e_failed=0
e2e_skipped=0
setup_failed=0
pg_started=0

note() { printf '\n==== %s\n' "$*"; }

stop_pg() {
    if [ "$pg_started" = 1 ] && [ "${TOCSIN_KEEP_PG:-0}" != 1 ]; then
        "$PG_LOCAL" stop "$VAR" >/dev/null 2>&1 || echo "run-all: stopping PostgreSQL failed" >&2
        pg_started=0
    fi
}
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT" "$OUT/screenshots"
# This run's logs and screenshots only.
rm -f "$OUT"/*.broker.log "$OUT"/e2e.tap "$OUT"/unit.log "$OUT"/checks.log "$OUT"/screenshots/*.png

e2e_files=("$@")

# ---------------------------------------------------------------- 1. unit
if [ ${#e2e_files[@]} -gt 0 ]; then
    note "unit tests: skipped (only the named e2e files run)"
else
    note "unit tests"
    shopt -s nullglob
    unit_bins=()
    for f in build/unit/test_*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        # A binary whose tests/unit/test_*.c is gone is stale: leave it out.
        if [ -f "tests/unit/$(basename "$f").c" ]; then
            unit_bins+=("$f")
        else
            echo "run-all: ignoring $f (no tests/unit/$(basename "$f").c)"
        fi
    done
    shopt -u nullglob
    if [ ${#unit_bins[@]} -eq 0 ]; then
        echo "run-all: no unit-test binaries under build/unit/ yet (tests/unit/test_*.c not written): none run"
    else
        tests/run-unit.sh "${unit_bins[@]}" 2>&1 | tee "$OUT/unit.log"
        line=$(grep -E '^unit: [0-9]+ passed, [0-9]+ failed$' "$OUT/unit.log" | tail -n 1)
        if [ -z "$line" ]; then
            echo "run-all: tests/run-unit.sh printed no summary"
            unit_failed=1
        else
            unit_passed=$(sed -E 's/^unit: ([0-9]+) passed.*/\1/' <<<"$line")
            unit_failed=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
        fi
    fi
fi

# ---------------------------------------------------------- 1b. checks
if [ ${#e2e_files[@]} -eq 0 ]; then
    note "checks of the tree (tests/checks)"
    for c in tests/checks/*.sh; do
        [ -x "$c" ] || continue
        echo "=== $c"
        if "$c" 2>&1 | tee -a "$OUT/checks.log"; then
            checks_passed=$((checks_passed + 1))
        else
            echo "run-all: $c FAILED"
            checks_failed=$((checks_failed + 1))
        fi
    done
    echo "checks: $checks_passed passed, $checks_failed failed"
fi

# ---------------------------------------------------------- 2. PostgreSQL
setup_pg() {
    note "PostgreSQL for the e2e tests ($VAR)"
    local f
    for f in "$PG_LOCAL" deploy/migrate.sh deploy/load-demo.sh; do
        if [ ! -x "$f" ]; then
            echo "run-all: $f is missing or not executable"
            return 1
        fi
    done
    if [ -e "$VAR" ]; then
        "$PG_LOCAL" stop "$VAR" >/dev/null 2>&1 || true
        rm -rf "$VAR"
    fi
    mkdir -p "$(dirname "$VAR")"
    pg_started=1
    "$PG_LOCAL" start "$VAR" || { echo "run-all: pg-local.sh start failed"; return 1; }
    SU_URL=$("$PG_LOCAL" url "$VAR") || { echo "run-all: pg-local.sh url failed"; return 1; }
    echo "superuser URL: $SU_URL"
    deploy/migrate.sh "$SU_URL" || { echo "run-all: migrate.sh failed"; return 1; }
    deploy/load-demo.sh "$SU_URL" || { echo "run-all: load-demo.sh failed"; return 1; }
    SU_ROLE=$(psql "$SU_URL" -X -v ON_ERROR_STOP=1 -Atqc 'SELECT current_user') \
        || { echo "run-all: cannot query the database"; return 1; }
    # Per-file databases are copies of this one (CREATE DATABASE ... TEMPLATE
    # tocsin), which needs nobody connected to it: nothing connects to it
    # again after this.
    psql "$SU_URL" -X -v ON_ERROR_STOP=1 -q -c 'ALTER DATABASE tocsin WITH IS_TEMPLATE true' \
        || { echo "run-all: cannot mark database tocsin as a template"; return 1; }
    ADMIN_URL=$("$PG_LOCAL" url "$VAR" "$SU_ROLE" postgres) \
        || { echo "run-all: pg-local.sh url (postgres database) failed"; return 1; }
    export TOCSIN_ROOT="$ROOT"
    export TOCSIN_TEST_VAR="$VAR"
    export TOCSIN_PG_URL="$SU_URL"          # superuser, database tocsin (the template)
    export TOCSIN_PG_ADMIN_URL="$ADMIN_URL"  # superuser, database postgres (for CREATE DATABASE)
    export TOCSIN_PG_SUPERUSER="$SU_ROLE"
    export TOCSIN_TEMPLATE_DB=tocsin
    export TOCSIN_PG_LOCAL="$PG_LOCAL"
    export TOCSIN_TEST_OUTPUT="$OUT"
    return 0
}

# -------------------------------------------------------------- 3. schema
schema_check() {   # schema_check COMMAND ARG...: one passed or failed check
    if "$@"; then
        schema_passed=$((schema_passed + 1))
    else
        echo "run-all: FAILED: $1"
        schema_failed=$((schema_failed + 1))
    fi
}

run_schema() {
    if [ ${#e2e_files[@]} -gt 0 ]; then
        note "schema checks: skipped (only the named e2e files run)"
        return 0
    fi
    note "schema checks"
    schema_check tests/schema/functions-once.test.sh
    schema_check tests/schema/compare.sh "$ADMIN_URL"
    echo "schema: $schema_passed passed, $schema_failed failed"
}

# ---------------------------------------------------------------- 4. e2e
run_e2e() {
    note "end-to-end tests"
    if [ ${#e2e_files[@]} -eq 0 ]; then
        shopt -s nullglob
        e2e_files=(tests/e2e/*.test.mjs)
        shopt -u nullglob
    fi
    if [ ${#e2e_files[@]} -eq 0 ]; then
        echo "run-all: no tests/e2e/*.test.mjs"
        return 1
    fi
    if [ ! -d tests/node_modules ]; then
        echo "run-all: tests/node_modules is missing (run: npm ci --prefix tests)"
        return 1
    fi
    export TOCSIN_BROKER="${TOCSIN_BROKER:-$ROOT/build/san/tocsind}"
    echo "broker: $TOCSIN_BROKER"
    local tap="$OUT/e2e.tap"
    rm -f "$tap"
    node --test --test-concurrency=1 \
        --test-timeout="${TOCSIN_E2E_TIMEOUT_MS:-300000}" \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        "${e2e_files[@]}"
    local rc=$?
    local pass fail cancelled skipped todo
    pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
    fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
    cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
    skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
    todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
    if [ -z "$pass" ] || [ -z "$fail" ]; then
        echo "run-all: node's test runner left no summary (exit $rc)"
        e2e_failed=$((e2e_failed + 1))
        return 1
    fi
    e2e_passed=$pass
    # A cancelled test (its file or suite timed out, a hook failed) counts as failed.
    e2e_failed=$((fail + ${cancelled:-0}))
    e2e_skipped=$((${skipped:-0} + ${todo:-0}))
    if [ "$rc" -ne 0 ] && [ "$e2e_failed" -eq 0 ]; then
        echo "run-all: node's test runner exited $rc with no failed test"
        e2e_failed=1
    fi
    echo "e2e: $e2e_passed passed, $e2e_failed failed$( [ "$e2e_skipped" -gt 0 ] && echo ", $e2e_skipped skipped")"
}

if setup_pg; then
    run_schema
    run_e2e
else
    echo "run-all: PostgreSQL setup failed: the e2e tests cannot run and count as one failure"
    setup_failed=1
fi

stop_pg

# ------------------------------------------------------------- 6. summary
passed=$((unit_passed + checks_passed + schema_passed + e2e_passed))
failed=$((unit_failed + checks_failed + schema_failed + e2e_failed + setup_failed))
note "summary: unit $unit_passed passed, $unit_failed failed; checks $checks_passed passed, $checks_failed failed; schema $schema_passed passed, $schema_failed failed; e2e $e2e_passed passed, $e2e_failed failed; logs in tests/output/"
if [ "$e2e_skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $e2e_skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
