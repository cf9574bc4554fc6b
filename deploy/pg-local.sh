#!/usr/bin/env bash
# deploy/pg-local.sh: a private PostgreSQL cluster for development and tests,
# kept entirely under one directory and reachable only through a Unix socket.
#
#   deploy/pg-local.sh start  <var-dir>                  initdb on first use, start, create db "tocsin"
#   deploy/pg-local.sh stop   <var-dir>                  fast shutdown (succeeds if not running)
#   deploy/pg-local.sh status <var-dir>                  exit 0 if running, 3 if not
#   deploy/pg-local.sh url    <var-dir> [role] [dbname]  print the libpq URI (default postgres, tocsin)
#
# Layout: <var-dir>/pg (data), <var-dir>/run (socket), <var-dir>/log/postgresql.log.
# Authentication is "trust" on the socket, which is mode 0700: LOCAL
# DEVELOPMENT ONLY. PostgreSQL refuses to run as root, so when we are root the
# server runs as the system user "tocsin" (created if missing), with the
# CAP_DAC_READ_SEARCH capability so that it can reach a var-dir below a
# root-only (mode 700) directory, such as a `mktemp -d` checkout.
set -euo pipefail

PORT=5432               # only names the socket file: there is no TCP listener
SUPERUSER=postgres
DBNAME=tocsin
SYSUSER=tocsin

# Settings from the caller's environment must not leak into the cluster or
# into our own psql calls.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGDATA PGOPTIONS PGSERVICE PGSERVICEFILE \
      PGPASSFILE PGSSLMODE PGTARGETSESSIONATTRS

die() { echo "pg-local: $*" >&2; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: deploy/pg-local.sh start  <var-dir>
       deploy/pg-local.sh stop   <var-dir>
       deploy/pg-local.sh status <var-dir>
       deploy/pg-local.sh url    <var-dir> [role] [dbname]
EOF
    exit 2
}

# The directory with initdb/pg_ctl: $PG_BINDIR, else the newest installed
# Debian PostgreSQL, else whatever is on PATH.
find_bindir() {
    local best
    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/pg_ctl" ]] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl"
        echo "$PG_BINDIR"; return
    fi
    # The highest version number (a plain glob would sort 10 before 9).
    best="$(for d in /usr/lib/postgresql/*/bin; do
                if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then echo "$d"; fi
            done | sort -t/ -k5,5n | tail -n 1)"
    if [[ -z "$best" ]] && command -v pg_ctl >/dev/null 2>&1; then
        best="$(dirname "$(command -v pg_ctl)")"
    fi
    [[ -n "$best" ]] || die "no PostgreSQL server binaries found (install the Debian package postgresql: deploy/install-deps.sh)"
    echo "$best"
}

# Percent-encode a string for a libpq URI.
urlencode() {
    local LC_ALL=C s="$1" out="" c i
    for (( i = 0; i < ${#s}; i++ )); do
        c="${s:i:1}"
        case "$c" in
            [A-Za-z0-9/._~-]) out+="$c" ;;
            *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

# A single-quoted value for postgresql.conf.
conf_quote() { local s="${1//\'/\'\'}"; printf "'%s'" "$s"; }

[[ $# -ge 2 ]] || usage
cmd="$1"
[[ -n "$2" ]] || usage
VAR="$(realpath -m -- "$2")"
PGDATA="$VAR/pg"
RUNDIR="$VAR/run"
LOGDIR="$VAR/log"
LOGFILE="$LOGDIR/postgresql.log"
SOCKET="$RUNDIR/.s.PGSQL.$PORT"

url_for() {   # url_for role dbname
    printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' \
        "$(urlencode "$2")" "$(urlencode "$RUNDIR")" "$PORT" "$(urlencode "$1")"
}

check_socket_len() {
    # sun_path holds 108 bytes; stay well clear of it.
    if (( ${#SOCKET} >= 100 )); then
        die "the socket path $SOCKET is ${#SOCKET} characters long; it must be under 100.
Use a shorter var-dir (move the checkout to a shorter path), or point DATABASE_URL at another PostgreSQL."
    fi
}

# Who runs the server: ourselves, or (when root) the owner of an existing data
# directory, else the system user $SYSUSER.
RUNAS=""
choose_runas() {
    (( EUID == 0 )) || return 0
    if [[ -e "$PGDATA" ]]; then
        RUNAS="$(stat -c %U -- "$PGDATA")"
        [[ "$RUNAS" != root ]] || die "$PGDATA is owned by root; PostgreSQL cannot run as root (remove it: rm -rf $PGDATA)"
    else
        RUNAS="$SYSUSER"
    fi
}

ensure_sysuser() {
    [[ "$RUNAS" == "$SYSUSER" ]] || return 0
    if ! id -u "$SYSUSER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$SYSUSER"
    fi
}

# Run a PostgreSQL server-side program as $RUNAS (or as ourselves).
as_pg() {
    if [[ -n "$RUNAS" ]]; then
        setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --init-groups \
                --inh-caps=+dac_read_search --ambient-caps=+dac_read_search -- "$@"
    else
        "$@"
    fi
}

# As a non-root user, a data directory made by root's run belongs to another
# user: say so instead of letting pg_ctl fail obscurely.
check_owner_nonroot() {
    (( EUID != 0 )) || return 0
    if [[ -e "$PGDATA" && ! -O "$PGDATA" ]]; then
        die "$PGDATA belongs to $(stat -c %U -- "$PGDATA"); run this as root or as that user, or start afresh (rm -rf $VAR)"
    fi
}

is_running() {
    [[ -f "$PGDATA/PG_VERSION" ]] || return 1
    as_pg "$BINDIR/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

psql_super() {   # psql_super dbname args...
    local db="$1"; shift
    psql -X -q -v ON_ERROR_STOP=1 -d "$(url_for "$SUPERUSER" "$db")" "$@"
}

# The settings that depend on where the cluster lives are rewritten at every
# start, so that a moved var-dir still works.
write_local_conf() {
    local f="$PGDATA/tocsin-local.conf"
    {
        echo "# Written by deploy/pg-local.sh at every start: do not edit."
        echo "port = $PORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = $(conf_quote "$RUNDIR")"
        echo "unix_socket_permissions = 0700"
    } > "$f"
    [[ -z "$RUNAS" ]] || chown "$RUNAS" "$f"
    chmod 600 "$f"
}

do_initdb() {
    local locale=C
    if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then locale=C.UTF-8; fi
    echo "pg-local: creating a new cluster in $PGDATA"
    install -d -m 700 "$PGDATA"
    [[ -z "$RUNAS" ]] || chown "$RUNAS:$(id -g "$RUNAS")" "$PGDATA"
    if ! as_pg "$BINDIR/initdb" -D "$PGDATA" -U "$SUPERUSER" -A trust \
            --encoding=UTF8 --locale="$locale" --no-instructions \
            > "$LOGDIR/initdb.log" 2>&1; then
        cat "$LOGDIR/initdb.log" >&2
        die "initdb failed (log: $LOGDIR/initdb.log)"
    fi
    cat >> "$PGDATA/postgresql.conf" <<'EOF'

# --- Tocsin local cluster (deploy/pg-local.sh): development and tests only ---
# fsync stays on: durability is part of what Tocsin promises.
fsync = on
shared_buffers = 128MB
max_connections = 200
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
include_if_exists = 'tocsin-local.conf'
EOF
}

do_start() {
    check_socket_len
    check_owner_nonroot
    choose_runas
    ensure_sysuser
    if is_running; then
        echo "pg-local: already running ($PGDATA)"
    else
        mkdir -p "$VAR"
        install -d -m 700 "$RUNDIR"
        install -d -m 755 "$LOGDIR"
        if [[ -n "$RUNAS" ]]; then
            chown "$RUNAS:$(id -g "$RUNAS")" "$RUNDIR" "$LOGDIR"
            [[ ! -e "$LOGFILE" ]] || chown "$RUNAS" "$LOGFILE"
        fi
        [[ -f "$PGDATA/PG_VERSION" ]] || do_initdb
        write_local_conf
        if ! as_pg "$BINDIR/pg_ctl" start -D "$PGDATA" -l "$LOGFILE" -w -t 60 >/dev/null; then
            tail -n 20 "$LOGFILE" >&2 || true
            die "PostgreSQL did not start (log: $LOGFILE)"
        fi
        echo "pg-local: started ($PGDATA, socket in $RUNDIR, log $LOGFILE)"
    fi
    if [[ "$(psql_super postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]]; then
        psql_super postgres -c "CREATE DATABASE $DBNAME"
        echo "pg-local: created database $DBNAME"
    fi
}

do_stop() {
    choose_runas
    if ! [[ -f "$PGDATA/PG_VERSION" ]]; then
        echo "pg-local: no cluster in $PGDATA"
        return 0
    fi
    if ! is_running; then
        echo "pg-local: not running ($PGDATA)"
        return 0
    fi
    as_pg "$BINDIR/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null
    echo "pg-local: stopped ($PGDATA)"
}

do_status() {
    choose_runas
    if is_running; then
        echo "pg-local: running ($PGDATA, socket in $RUNDIR)"
        return 0
    fi
    echo "pg-local: not running ($PGDATA)"
    return 3
}

case "$cmd" in
    url)
        [[ $# -le 4 ]] || usage
        url_for "${3:-$SUPERUSER}" "${4:-$DBNAME}"
        ;;
    start|stop|status)
        [[ $# -eq 2 ]] || usage
        BINDIR="$(find_bindir)"
        "do_$cmd"
        ;;
    *) usage ;;
esac
