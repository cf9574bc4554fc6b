#!/usr/bin/env bash
# deploy/load-demo.sh <superuser-url>: load the demo data (sql/demo/demo_data.sql:
# City of London Police, three security companies, sites in the Square Mile,
# one demo user per role) in one transaction. Safe to run again: rows that
# already exist are left as they are. Prints the resulting counts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: deploy/load-demo.sh <superuser-url>" >&2; exit 2; }
URL="$1"

run_psql() {
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -v ON_ERROR_STOP=1 -d "$URL" "$@"
}

run_psql --single-transaction -f "$ROOT/sql/demo/demo_data.sql" \
    || { echo "load-demo: failed; nothing was loaded" >&2; exit 1; }

run_psql -tA -F ' ' -c "SELECT (SELECT count(*) FROM organisations),
                               (SELECT count(*) FROM sites),
                               (SELECT count(*) FROM users)" |
    { read -r orgs sites users
      echo "load-demo: demo data present ($orgs organisations, $sites sites, $users users)"; }
