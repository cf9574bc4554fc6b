#!/usr/bin/env bash
# tests/schema/functions-once.test.sh: tests/schema/functions-once.sh passes
# on sql/, and fails on a copy of sql/ given a second definition of a
# function spelt differently (case, argument names, type aliases, a
# default, in a migration rather than in sql/functions/), while an overload
# or a definition inside a comment is not counted as one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHECK="$ROOT/tests/schema/functions-once.sh"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "functions-once.test: FAIL: $*" >&2; exit 1; }

"$CHECK" "$ROOT/sql" > "$WORK/sql.out" || { cat "$WORK/sql.out" >&2; fail "sql/ has a function defined twice"; }
cat "$WORK/sql.out"

# Not duplicates: an overload, and a definition in a comment.
cp -r "$ROOT/sql" "$WORK/ok"
cat > "$WORK/ok/migrations/900_not_twice.sql" <<'EOF'
-- CREATE OR REPLACE FUNCTION tocsin_ack(integer, bigint, text, timestamptz) ...
/* CREATE FUNCTION tocsin_ack(integer, bigint, text, timestamptz) */
CREATE FUNCTION tocsin_ack(p_user_id integer, p_alert_id bigint)
RETURNS void LANGUAGE sql AS $$ SELECT $$;
EOF
"$CHECK" "$WORK/ok" > "$WORK/ok.out" || { cat "$WORK/ok.out" >&2; fail "an overload or a comment was taken for a second definition"; }

# A duplicate: tocsin_ack(integer, bigint, text, timestamp with time zone)
# again, in a migration, written another way.
cp -r "$ROOT/sql" "$WORK/twice"
cat > "$WORK/twice/migrations/900_twice.sql" <<'EOF'
create or replace function TOCSIN_ACK(p_user int4, bigint, "p_remote" TEXT,
                                      p_at timestamptz DEFAULT now())
returns void language sql as $$ select $$;
EOF
if "$CHECK" "$WORK/twice" > "$WORK/twice.out"; then
    cat "$WORK/twice.out" >&2
    fail "a second definition of tocsin_ack was not found"
fi
grep -q '^functions-once: tocsin_ack(integer,bigint,text,timestamp with time zone) is defined 2 times: .*functions/receipts.sql:[0-9]*, .*migrations/900_twice.sql:1$' \
    "$WORK/twice.out" || { cat "$WORK/twice.out" >&2; fail "the report does not name tocsin_ack and both places"; }
echo "functions-once.test: a planted second definition of tocsin_ack is found:"
sed 's|'"$WORK"'/twice/|sql/|g' "$WORK/twice.out"
