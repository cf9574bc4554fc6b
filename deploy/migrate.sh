#!/usr/bin/env bash
# deploy/migrate.sh <superuser-url>: apply the schema migrations
# sql/NNN_*.sql in order, each at most once and each in its own transaction,
# recording them in the table schema_migrations (version = file name without
# .sql, e.g. "001_core"). Prints what it applied. Safe to run again.
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

run_psql -c "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version     text PRIMARY KEY,
                 applied_at  timestamptz NOT NULL DEFAULT now())" \
    || die "cannot reach the database or create schema_migrations"

applied="$(run_psql -tA -c "SELECT version FROM schema_migrations")"

shopt -s nullglob
export LC_ALL=C        # glob order is byte order: 001 < 002 < ... < 010
files=("$SQLDIR"/[0-9][0-9][0-9]_*.sql)
(( ${#files[@]} )) || die "no migrations in $SQLDIR"

# Two files with the same number are a merge accident: refuse.
dups="$(for f in "${files[@]}"; do b="${f##*/}"; echo "${b:0:3}"; done | uniq -d)"
[[ -z "$dups" ]] || die "two migrations share the number(s): $dups"

count=0
for f in "${files[@]}"; do
    version="$(basename "$f" .sql)"
    [[ "$version" =~ ^[0-9]{3}_[A-Za-z0-9_.-]+$ ]] || die "bad migration file name: ${f##*/}"
    if grep -qxF -- "$version" <<<"$applied"; then
        continue
    fi
    # The row goes in first: a concurrent run of the same migration waits on
    # the primary key and then fails instead of applying it twice.
    if ! run_psql --single-transaction \
            -c "INSERT INTO schema_migrations (version, applied_at) VALUES ('$version', now())" \
            -f "$f"; then
        die "$version failed; nothing of it was applied"
    fi
    echo "migrate: applied $version"
    count=$((count + 1))
done

if (( count == 0 )); then
    echo "migrate: up to date (latest: $(basename "${files[-1]}" .sql))"
fi
