#!/usr/bin/env bash
# tests/soak/soak.sh [--minutes 60] [--consoles 200] [--rate 20] [--targets 3]
#                    [--outage 30] [--keep]
#
# The soak of issue 16 ("the record holds"), not part of make test: the
# system as `make run` starts it (deploy/run.sh, with its folder under
# build/soak/var instead of var/, on free loopback ports), a publisher at
# --rate alerts a second, --consoles consoles that acknowledge, and
# PostgreSQL stopped twice for --outage seconds: once by pg-local.sh stop,
# once hung by SIGSTOP. Then tests/soak/soak.mjs checks that tocsinctl
# audit verify finds the chain intact and that every confirmed alert,
# acknowledgement and delivery has its row, and prints the figures.
#
# It stops by itself and cleans up on any exit: the load, the broker and
# the PostgreSQL it started (SIGCONT first if it was hung); build/soak/var
# is removed unless --keep or a check failed. Output: build/soak/soak.log (the figures),
# build/soak/run.log (deploy/run.sh and the broker). Exit 0 when every
# check passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SOAK="$ROOT/build/soak"
VAR="$SOAK/var"
PG_LOCAL="$ROOT/deploy/pg-local.sh"

usage() { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
opts=()
keep=0
while (( $# )); do
    case "$1" in
        --minutes|--consoles|--rate|--targets|--outage)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
            opts+=("$1" "$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        *) usage ;;
    esac
done

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

run_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # a hung cluster cannot stop: let it run first
    if [[ -f "$VAR/pg/postmaster.pid" ]]; then
        pm="$(head -n 1 "$VAR/pg/postmaster.pid")"
        kill -CONT "$pm" $(pgrep -P "$pm" || true) 2>/dev/null || true
    fi
    if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
        kill -TERM "$run_pid" 2>/dev/null || true
        for (( i = 0; i < 600; i++ )); do
            kill -0 "$run_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    "$PG_LOCAL" stop "$VAR" >/dev/null 2>&1 || true
    # a failed soak keeps its database and logs for the post-mortem
    if (( keep || rc != 0 )); then
        echo "soak: kept $VAR" >&2
    else
        rm -rf "$VAR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cd "$ROOT"
make --no-print-directory deps-test all >/dev/null
"$PG_LOCAL" stop "$VAR" >/dev/null 2>&1 || true
rm -rf "$VAR"
mkdir -p "$SOAK"

port="$(free_port)"
TOCSIN_VAR="$VAR" TOCSIN_PORT="$port" \
TOCSIN_BUS_INGEST_PORT="$(free_port)" TOCSIN_BUS_EVENTS_PORT="$(free_port)" \
    deploy/run.sh > "$SOAK/run.log" 2>&1 &
run_pid=$!
echo "soak: make run's system on 127.0.0.1:$port (log: build/soak/run.log)"

set +e
node tests/soak/soak.mjs --port "$port" --var "$VAR" "${opts[@]}" 2>&1 | tee "$SOAK/soak.log"
rc=${PIPESTATUS[0]}
set -e

echo "soak: the broker's log: $(grep -c 'no answer for' "$SOAK/run.log" || true) connections found silent," \
     "$(grep -c 'gave up on a query' "$SOAK/run.log" || true) statements cancelled by the server," \
     "$(grep -c 'database back: writing' "$SOAK/run.log" || true) journal write-backs," \
     "$(grep -ciE 'runtime error|AddressSanitizer' "$SOAK/run.log" || true) sanitizer reports" | tee -a "$SOAK/soak.log"
exit "$rc"
