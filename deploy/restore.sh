#!/usr/bin/env bash
# deploy/restore.sh <dump> <superuser-url>: restore a pg_dump of the Tocsin
# database (pg_dump -Fc) into an empty database, and give the stream a new
# epoch (docs/operations.md, "Backup and restore").
#
#   1. the roles (sql/schema/01_roles.sql: roles belong to the cluster, not
#      to a dump of one database; each is created only when missing, so
#      their passwords, if any, are set again by hand);
#   2. pg_restore, in one transaction, owned by the superuser that runs it
#      (as deploy/migrate.sh would have made them); any error applies
#      nothing;
#   3. deploy/migrate.sh: the dump may be older than this release;
#   4. a new stream epoch (tocsin_stream_new_epoch, audited): a restored
#      stream is behind what consoles have seen, and a console resuming
#      with the old epoch would skip the positions given out again. With a
#      new one every console reloads when the broker connects.
#
# It refuses a database that already has tables: a restore never merges.
# Stop the broker first; start it once this has printed "restored".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SQLDIR="$ROOT/sql"
MIGRATE="$ROOT/deploy/migrate.sh"

die() { echo "restore: $*" >&2; exit 1; }

[[ $# -eq 2 && -n "$1" && -n "$2" ]] ||
    { echo "usage: deploy/restore.sh <dump> <superuser-url>" >&2; exit 2; }
DUMP="$1"
URL="$2"
[[ -r "$DUMP" ]] || die "cannot read the dump $DUMP"

run_psql() {
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -v ON_ERROR_STOP=1 -d "$URL" "$@"
}

tables="$(run_psql -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
[[ "$tables" == 0 ]] || die "the database already has $tables tables: restore into an empty one (createdb)"

run_psql -f "$SQLDIR/schema/01_roles.sql"
pg_restore --exit-on-error --single-transaction --no-owner -d "$URL" "$DUMP" ||
    die "pg_restore failed (above); nothing was restored"
echo "restore: $DUMP restored"
"$MIGRATE" "$URL"
epoch="$(run_psql -tAc "SELECT tocsin_stream_new_epoch('restored from $(basename "$DUMP")')")"
echo "restore: the stream's new epoch is $epoch: consoles reload when the broker starts"
echo "restore: restored; check the audit trail: tocsinctl audit verify"
