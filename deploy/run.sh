#!/usr/bin/env bash
# deploy/run.sh: what `make run` runs once build/tocsind is built.
#
# Without DATABASE_URL: starts the private PostgreSQL under var/ (see
# deploy/pg-local.sh), brings its schema up to date (deploy/migrate.sh:
# sql/schema, sql/migrations, sql/functions) and loads the demo data as the
# superuser, and runs the broker as the role tocsin_broker. A var/ made
# before sql/schema existed is recognised and brought up to date.
# With DATABASE_URL: does the same through TOCSIN_MIGRATE_URL (default:
# DATABASE_URL) and runs the broker on DATABASE_URL.
#
# Prints the address and one demo log-in per role, then runs the broker in
# the foreground on 127.0.0.1:$TOCSIN_PORT (default 8080). Ctrl-C or SIGTERM
# stops the broker, then the private PostgreSQL if this script started it.
# A second run reuses the data in var/. TOCSIN_VAR names another folder for
# the cluster, keys and journal (tests/soak/soak.sh runs it under build/).
# shellcheck disable=SC2317  # cleanup and on_signal run from traps
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VAR="${TOCSIN_VAR:-$ROOT/var}"
PORT="${TOCSIN_PORT:-8080}"
SCHEME=http
[[ -z "${TOCSIN_TLS_CERT:-}" ]] || SCHEME=https   # with TOCSIN_TLS_KEY: https and wss only
BROKER="$ROOT/build/tocsind"

die() { echo "run: $*" >&2; exit 1; }

if ! [[ "$PORT" =~ ^[0-9]{1,5}$ ]] || (( PORT < 1 || PORT > 65535 )); then
    die "TOCSIN_PORT must be a port number (got '$PORT')"
fi
[[ -x "$BROKER" ]] || die "$BROKER is missing: build it with make"

mkdir -p "$VAR"
install -d -m 700 "$VAR/secrets"
chmod 700 "$VAR/secrets"

# Cleanup runs on every exit: stop the broker if it is still there, then the
# PostgreSQL this script started (none other).
started_pg=0
broker_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if (( started_pg )); then
        "$ROOT/deploy/pg-local.sh" stop "$VAR" || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
# Until the broker runs, a signal just ends the script (through cleanup).
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ -z "${DATABASE_URL:-}" ]]; then
    if ! "$ROOT/deploy/pg-local.sh" status "$VAR" >/dev/null; then
        started_pg=1
    fi
    "$ROOT/deploy/pg-local.sh" start "$VAR"
    migrate_url="$("$ROOT/deploy/pg-local.sh" url "$VAR")"
    broker_url="$("$ROOT/deploy/pg-local.sh" url "$VAR" tocsin_broker)"
    db_note="private PostgreSQL under var/ (log: var/log/postgresql.log)"
else
    migrate_url="${TOCSIN_MIGRATE_URL:-$DATABASE_URL}"
    broker_url="$DATABASE_URL"
    db_note="DATABASE_URL"
fi

"$ROOT/deploy/migrate.sh" "$migrate_url"

# The broker's keys (token, audit, and the ZeroMQ bus's CURVE key pair,
# docs/bus.md), made on the first run as on a server; adapters need the
# bus key's public half (bus_server.key.pub).
BUS_INGEST="tcp://127.0.0.1:${TOCSIN_BUS_INGEST_PORT:-7201}"
BUS_EVENTS="tcp://127.0.0.1:${TOCSIN_BUS_EVENTS_PORT:-7202}"
BUS_KEY="$VAR/secrets/bus_server.key"
if [[ ! -f "$VAR/secrets/token.key" ]]; then
    "$ROOT/build/tocsinctl" keys init --dir "$VAR/secrets" --group "$(id -gn)" >/dev/null ||
        die "cannot make the keys in $VAR/secrets"
else
    if [[ ! -f "$BUS_KEY" ]]; then
        "$ROOT/build/tocsinctl" bus keygen --out "$BUS_KEY" >/dev/null || die "cannot create $BUS_KEY"
    fi
    if [[ ! -f "$VAR/secrets/alert_sign.key" ]]; then  # made by keys init since issue 23
        "$ROOT/build/tocsinctl" keys rotate-alert --dir "$VAR/secrets" >/dev/null ||
            die "cannot make $VAR/secrets/alert_sign.key"
    fi
fi
bus_public="$(sed -n 's/^public //p' "$BUS_KEY")"
"$ROOT/deploy/load-demo.sh" "$migrate_url"

# tocsinctl connects as the role tocsin_admin (sql/schema/01_roles.sql).
if [[ -z "${DATABASE_URL:-}" ]]; then
    ctl_url="$("$ROOT/deploy/pg-local.sh" url "$VAR" tocsin_admin)"
else
    ctl_url="${TOCSIN_ADMIN_URL:-<a URL for the role tocsin_admin>}"
fi

cat <<EOF

  Tocsin: $SCHEME://127.0.0.1:$PORT
  Database: $db_note

  Demo log-ins (local development only):
    role              username              password
    controller        controller            controller-demo
    analyst           analyst               analyst-demo
    company_operator  op.citadel            operator-demo
    site_console      console.threadneedle  console-demo
    admin             admin                 admin-demo

  Administration (build/tocsinctl help lists every command; docs/tocsinctl.md):
    DATABASE_URL='$ctl_url' build/tocsinctl site list
  With that DATABASE_URL, also: alert list; board; device add --site threadneedle;
  adapter add tocsinctl --user controller --out var/secrets/tocsinctl-bus.key (once),
  then: publish --headline Test --severity minor --status Exercise --site threadneedle

  ZeroMQ bus (docs/bus.md): ingest $BUS_INGEST, events $BUS_EVENTS
    broker public key: $bus_public  (file: var/secrets/bus_server.key.pub)

  Stop with Ctrl-C.

EOF

# The broker runs in the background in its own process group (set -m), so
# that a Ctrl-C on the terminal reaches this script only and the broker gets
# exactly one signal: the one forwarded below. `wait` returns as soon as a
# trapped signal arrives, so the traps run while the broker is up.
stop_sig=""
signals=0
on_signal() { stop_sig="$1"; signals=$((signals + 1)); }
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal TERM' HUP

# As root, the broker reads its keys and certificate, then runs as the
# user the private PostgreSQL runs as (tocsin, made by pg-local.sh), which
# may use that cluster's socket; var/journal becomes that user's. Without
# that user, it stays root (--allow-root).
# The user must be able to reach the consoles' files and var/journal: a
# checkout inside a folder only root may enter (mktemp -d) would leave the
# broker unable to serve the pages or write its journal once it dropped
# root, so it then stays root and says why.
user_args=()
if (( EUID == 0 )); then
    if id -u tocsin >/dev/null 2>&1 &&
       setpriv --reuid=tocsin --regid="$(id -g tocsin)" --init-groups \
           test -r "$ROOT/web-client/index.html" -a -x "$VAR" 2>/dev/null; then
        user_args=(--user tocsin)
    else
        echo "run: the user tocsin cannot reach $ROOT; the broker stays root (--allow-root)" >&2
        user_args=(--allow-root)
    fi
fi

set -m
"$BROKER" --config /dev/null --listen "127.0.0.1:$PORT" --database "$broker_url" \
          --web-root "$ROOT/web-client" --token-key "$VAR/secrets/token.key" \
          --journal "${TOCSIN_JOURNAL:-$VAR/journal/tocsin.journal}" \
          --bus-ingest "$BUS_INGEST" --bus-events "$BUS_EVENTS" --bus-key "$BUS_KEY" \
          "${user_args[@]}" &
broker_pid=$!
set +m

rc=0
while :; do
    if wait "$broker_pid"; then rc=0; else rc=$?; fi
    if [[ -n "$stop_sig" ]] && kill -0 "$broker_pid" 2>/dev/null; then
        break           # a signal interrupted `wait`: the broker still runs
    fi
    if ! kill -0 "$broker_pid" 2>/dev/null; then
        broker_pid=""   # the broker has exited
        break
    fi
done

if [[ -n "$broker_pid" ]]; then
    echo "run: stopping the broker (SIG$stop_sig)" >&2
    kill -s "$stop_sig" "$broker_pid" 2>/dev/null || true
    # Give it time to close sessions and flush; a second Ctrl-C, or 30 s
    # without exiting, kills it.
    seen=$signals
    for (( i = 0; i < 300; i++ )); do
        kill -0 "$broker_pid" 2>/dev/null || break
        if (( signals > seen )); then break; fi
        sleep 0.1 || true
    done
    if kill -0 "$broker_pid" 2>/dev/null; then
        echo "run: the broker did not stop; killing it" >&2
        kill -KILL "$broker_pid" 2>/dev/null || true
    fi
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
    case "$stop_sig" in INT) rc=130 ;; *) rc=143 ;; esac
else
    echo "run: the broker exited (status $rc)" >&2
fi

exit "$rc"
