#!/usr/bin/env bash
# bench/notify_cost.sh: what a NOTIFY costs a commit on this machine (issue
# 20, docs/operations.md "When another transport"). A private PostgreSQL
# under build/notify-cost (deploy/pg-local.sh), one table, pgbench with
# CLIENTS clients for SECONDS seconds: a transaction of one INSERT, then the
# same with a pg_notify of a short payload (as the brokers send, one per
# batch), with one session listening and draining. Prints both rates.
# Stops what it started. Not part of `make bench` (it takes ~30 s).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VAR="${NOTIFY_COST_VAR:-$ROOT/build/notify-cost}"
CLIENTS="${CLIENTS:-4}"
SECONDS_EACH="${SECONDS_EACH:-10}"
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
listener=""
cleanup() {
    [[ -n "$listener" ]] && kill "$listener" 2>/dev/null || true
    "$ROOT/deploy/pg-local.sh" stop "$VAR" >/dev/null 2>&1 || true
    rm -rf "$VAR"
}
trap cleanup EXIT
"$ROOT/deploy/pg-local.sh" start "$VAR" >/dev/null
URL="$("$ROOT/deploy/pg-local.sh" url "$VAR")"
psql -X -q -d "$URL" -c "CREATE TABLE IF NOT EXISTS notify_cost (id bigserial PRIMARY KEY, x int)"
plain="$(mktemp)"; notify="$(mktemp)"
echo "INSERT INTO notify_cost (x) VALUES (1);" > "$plain"
printf '%s\n' "BEGIN;" "INSERT INTO notify_cost (x) VALUES (1);" \
    "SELECT pg_notify('tocsin_alerts', '379249423471104');" "COMMIT;" > "$notify"
# a listener that drains: psql reads notifications after each command
( for (( i = 0; i < SECONDS_EACH * 4 + 20; i++ )); do echo "SELECT pg_sleep(0.5);"; done ) \
    | psql -X -q -d "$URL" -c "LISTEN tocsin_alerts" -f - >/dev/null 2>&1 &
listener=$!
for f in plain notify; do
    file="${!f}"
    tps="$("$PGBENCH" -n -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" -f "$file" "$URL" 2>/dev/null \
           | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    echo "$f $tps"
done
rm -f "$plain" "$notify"
