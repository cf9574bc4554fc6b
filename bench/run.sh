#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs (issue 6). Separate from `make test`.
#
# Builds the broker (make, -O2) and the load generator (bench/loadgen.c),
# starts a fresh private PostgreSQL under build/bench/var, migrates it, loads
# the demo data and adds the bench's sites and site consoles, starts
# build/tocsind on 127.0.0.1 with its own token key, and drives it with
# N console connections (BENCH_N, default 10,000):
#   idle memory, fan-out (solo, paced, burst), acknowledgements, status
#   burst (not implemented yet), reconnect storm;
# the crime picture in PostgreSQL alone (bench/crime.sh);
# then the same fan-out and idle memory against Eclipse Mosquitto (Debian's,
# MQTT 3.1.1 over WebSocket, QoS 0); then the fan-out again on two brokers
# sharing the database, half the consoles on each (issue 20;
# BENCH_TWO_NODES=0 skips it). Prints the table, the Tocsin/Mosquitto
# ratios and PASS/MISS per target, and writes build/bench/results.json.
#
# Over TLS too (issue 22): BENCH_TLS=1 runs the same scenarios over TLS 1.3
# (https/wss, a test CA and a P-256 certificate made here with openssl, a
# ticket key), the load generator speaking TLS and resuming with the
# tickets it kept in the storms, and Mosquitto's websockets listener with
# the same certificate; BENCH_TLS=0 only plain; unset, both (TLS into
# $BENCH_OUT/tls) and a comparison of the two (bench/tls-summary.sh).
# Both runs end with a storm right after a broker restart.
#
# Everything listens on 127.0.0.1 only; every step has a time limit, and
# whatever this script started is stopped on exit (trap).
#
# Settings (environment):
#   BENCH_N            console connections (default 10000, at most 19000)
#   BENCH_ACK_ALERTS   alerts every console acknowledges (default 1: N acks)
#   BENCH_PORT         Tocsin's port (default 18080)
#   BENCH_MQTT_PORT    Mosquitto's plain MQTT port (default 18883); its
#                      WebSocket listener is the next port
#   BENCH_MOSQUITTO=0  skip the Mosquitto comparison
#   BENCH_TLS          1: over TLS only; 0: plain only; unset: both
#   BENCH_TLS_RESUME=0 the TLS storms make full handshakes (no tickets)
#   BENCH_TWO_NODES=0  skip the two-node scenario (two brokers, one database)
#   BENCH_PERF=1       record the broker with `perf record -g` during its run
#                      (build/bench/perf-tocsind.txt)
#   BENCH_OUT          output folder (default build/bench; its var/ holds PostgreSQL)
#   BENCH_KEEP_DB=1    leave PostgreSQL running afterwards (for inspection)
#   BENCH_PERF_ARGS    perf record's call-graph options (default "-g"; e.g.
#                      "--call-graph dwarf,16384" for libraries without frame
#                      pointers, such as Debian's libwebsockets)
#   BENCH_BROKER_ARGS  extra tocsind options (e.g. "--ping-interval 600")
#   BENCH_LOADGEN_ARGS extra load-generator options for a shorter profiling
#                      run, e.g. "--paced 100 --burst 100 --no-storm"
#   BENCH_PG_SETTINGS  PostgreSQL settings for this run, as name=value words
#                      (postgresql.auto.conf, before the broker connects), e.g.
#                      "session_preload_libraries=auto_explain
#                       auto_explain.log_min_duration=300ms"; PostgreSQL
#                      restarts when one needs it (shared_preload_libraries)
# shellcheck disable=SC2317  # cleanup runs from a trap
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
OUT="${BENCH_OUT:-$ROOT/build/bench}"
VAR="$OUT/var"
N="${BENCH_N:-10000}"

# Neither plain nor TLS asked for: both, one after the other, then the
# comparison.
if [[ -z "${BENCH_TLS:-}" ]]; then
    rc=0
    BENCH_TLS=0 "$ROOT/bench/run.sh" || rc=$?
    BENCH_TLS=1 BENCH_OUT="$OUT/tls" "$ROOT/bench/run.sh" || rc=$?
    "$ROOT/bench/tls-summary.sh" "$OUT" "$OUT/tls" | tee "$OUT/tls-summary.txt" || rc=$?
    exit "$rc"
fi
TLS="$BENCH_TLS"
[[ "$TLS" == 0 || "$TLS" == 1 ]] || { echo "bench: BENCH_TLS must be 0 or 1" >&2; exit 1; }
ACK_ALERTS="${BENCH_ACK_ALERTS:-1}"
PORT="${BENCH_PORT:-18080}"
MQTT_PORT="${BENCH_MQTT_PORT:-18883}"
WS_PORT=$((MQTT_PORT + 1))
LOADGEN_TIMEOUT=540      # seconds, per load-generator run

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

if ! [[ "$N" =~ ^[0-9]+$ ]] || (( N < 10 || N > 19000 )); then
    die "BENCH_N must be 10 to 19000 (got '$N')"
fi
if ! [[ "$ACK_ALERTS" =~ ^[0-9]+$ ]] || (( ACK_ALERTS > 64 )); then
    die "BENCH_ACK_ALERTS must be 0 to 64"
fi
for p in "$PORT" "$MQTT_PORT"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || (( p < 1024 || p >= 65535 )); then die "bad port '$p'"; fi
done
(( $(ulimit -n) >= N + 100 )) || die "ulimit -n is $(ulimit -n): N=$N connections need more file descriptors"

cd "$ROOT"
mkdir -p "$OUT"

broker_pid=""
node2_pid=""
mosq_pid=""
perf_pid=""
pg_started=0
stop_pid() {   # stop_pid pid name: TERM, up to 10 s, then KILL
    local pid="$1" i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$2 did not stop within 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    stop_pid "$perf_pid" perf
    stop_pid "$broker_pid" tocsind
    stop_pid "$node2_pid" "tocsind (node 2)"
    stop_pid "$mosq_pid" mosquitto
    if (( pg_started )) && [[ "${BENCH_KEEP_DB:-0}" != 1 ]]; then
        "$ROOT/deploy/pg-local.sh" stop "$VAR" >/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Other programs on the machine compete for the same two cores: record which
# used CPU while a load generator ran (seconds), so that the results say so.
cpu_snapshot() { ps -eo pid=,comm=,cputimes= 2>/dev/null || true; }
others_cpu() {   # others_cpu BEFORE AFTER PID...: "comm:seconds ..." of others, top 6
    local before="$1" after="$2"; shift 2
    awk -v skip=" $* " '
        NR == FNR { t[$1] = $NF; next }
        {
            if (index(skip, " " $1 " ")) next
            if ($2 ~ /^(postgres|tocsind|loadgen|mosquitto|perf|timeout|ps)$/) next
            d = $NF - (($1 in t) ? t[$1] : 0)
            if (d >= 1) by[$2] += d
        }
        END { for (c in by) printf "%s:%ds\n", c, by[c] }' \
        <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sort -t: -k2 -n -r | head -n 6 | tr '\n' ' '
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
listening_on() { ss -Hltn "sport = :$1" | awk '{print $4}' | sort -u | tr '\n' ' '; }

# ---- build ------------------------------------------------------------------
say "building the broker (make) and the load generator"
make --no-print-directory -C "$ROOT" build/tocsind >/dev/null
# A private copy: a concurrent `make` elsewhere cannot swap it during the run.
cp "$ROOT/build/tocsind" "$OUT/tocsind"
CFLAGS_BENCH=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter)
# shellcheck disable=SC2046
cc "${CFLAGS_BENCH[@]}" $(pkg-config --cflags libpq libsodium) -o "$OUT/loadgen" \
   bench/loadgen.c $(pkg-config --libs libpq libsodium) -lssl -lcrypto -lm
cc "${CFLAGS_BENCH[@]}" -o "$OUT/report" bench/report.c -lm
cc "${CFLAGS_BENCH[@]}" -pthread -o "$OUT/send-floor" bench/send_floor.c

# ---- PostgreSQL, fresh for every run ---------------------------------------
port_free "$PORT" || die "port $PORT is in use (set BENCH_PORT)"
"$ROOT/deploy/pg-local.sh" stop "$VAR" >/dev/null 2>&1 || true
rm -rf "$VAR"
pg_started=1
"$ROOT/deploy/pg-local.sh" start "$VAR" >/dev/null
SUPER_URL="$("$ROOT/deploy/pg-local.sh" url "$VAR")"
# postgresql.auto.conf rather than ALTER SYSTEM: a module's settings
# (auto_explain.*) are unknown to ALTER SYSTEM until the module is loaded
for setting in ${BENCH_PG_SETTINGS:-}; do
    [[ "$setting" =~ ^([a-z_][a-z0-9_.]*)=([^\'[:space:]]+)$ ]] \
        || die "BENCH_PG_SETTINGS: '$setting' is not name=value"
    echo "${BASH_REMATCH[1]} = '${BASH_REMATCH[2]}'" >> "$VAR/pg/postgresql.auto.conf"
done
if [[ -n "${BENCH_PG_SETTINGS:-}" ]]; then
    psql -X -q -d "$SUPER_URL" -c "SELECT pg_reload_conf()" >/dev/null
    # shared_preload_libraries (pg_stat_statements) takes a restart
    if [[ "$(psql -X -tA -d "$SUPER_URL" -c "SELECT count(*) FROM pg_settings WHERE pending_restart")" != 0 ]]; then
        "$ROOT/deploy/pg-local.sh" stop "$VAR" >/dev/null
        "$ROOT/deploy/pg-local.sh" start "$VAR" >/dev/null
    fi
    bad="$(psql -X -tA -d "$SUPER_URL" -c "SELECT string_agg(name || ': ' || error, '; ')
                                            FROM pg_file_settings WHERE error IS NOT NULL")"
    [[ -z "$bad" ]] || die "BENCH_PG_SETTINGS: PostgreSQL refused $bad"
fi
BROKER_URL="$("$ROOT/deploy/pg-local.sh" url "$VAR" tocsin_broker)"
"$ROOT/deploy/migrate.sh" "$SUPER_URL" >/dev/null
"$ROOT/deploy/load-demo.sh" "$SUPER_URL" >/dev/null
psql_s() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$SUPER_URL" "$@"; }

SITES=$(( (N + 9) / 10 ))   # ten consoles per site
say "adding $SITES bench sites and their site consoles"
psql_s -v sites="$SITES" <<'SQL'
INSERT INTO sites (name, address, lat, lon, sector_id, guard_org_id)
SELECT 'bench-site-' || g, 'Bench building ' || g || ', London',
       51.51 + (g % 100) * 0.0001, -0.09 + (g / 100) * 0.0001,
       (SELECT min(id) FROM sectors),
       c.ids[1 + g % array_length(c.ids, 1)]
  FROM generate_series(1, :sites) AS g,
       (SELECT array_agg(id ORDER BY id) AS ids FROM organisations
         WHERE kind = 'security_company') AS c;
INSERT INTO users (username, display_name, password_hash, role, org_id, site_id)
SELECT 'bench.console.' || substr(s.name, 12), 'Bench console ' || substr(s.name, 12),
       '$argon2id$bench-no-password-sign-in', 'site_console', s.guard_org_id, s.id
  FROM sites s WHERE s.name LIKE 'bench-site-%';
ANALYZE;
SQL
psql_s -tA -F ' ' -c "SELECT id, site_id, org_id, username FROM users
                       WHERE username LIKE 'bench.console.%' ORDER BY id" > "$OUT/users.txt"
CONTROLLER="$(psql_s -tA -F ':' -c "SELECT id, org_id, username, cleared_sensitive FROM users WHERE username = 'controller'")"
ORGS="$(psql_s -tA -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM organisations
                        WHERE kind = 'security_company'")"
[[ -n "$CONTROLLER" && -n "$ORGS" ]] || die "the demo data has no controller or no companies"
(( $(wc -l < "$OUT/users.txt") == SITES )) || die "expected $SITES bench consoles in the database"

# ---- the broker ---------------------------------------------------------------
umask 077
head -c 32 /dev/urandom > "$OUT/token.key"
head -c 32 /dev/urandom > "$OUT/audit.key"   # tocsind reads them, makes none
head -c 32 /dev/urandom > "$OUT/alert_sign.key"
head -c 32 /dev/urandom > "$OUT/ticket.key"
umask 022
broker_args=(--config /dev/null --database "$BROKER_URL" --web-root "$ROOT/web-client"
             --token-key "$OUT/token.key" --log-level warn)
scheme=http
curl_tls=()
loadgen_tls=()
if [[ "$TLS" == 1 ]]; then
    # a test CA and a P-256 server certificate for 127.0.0.1 signed by it
    say "TLS: making a test CA and a P-256 certificate for 127.0.0.1 (openssl)"
    rm -rf "$OUT/ca" && mkdir -p "$OUT/ca"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=Tocsin bench CA" -keyout "$OUT/ca/ca.key" -out "$OUT/ca/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$OUT/ca/server.key" -out "$OUT/ca/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$OUT/ca/ext.cnf"
    openssl x509 -req -in "$OUT/ca/server.csr" -CA "$OUT/ca/ca.pem" -CAkey "$OUT/ca/ca.key" \
        -CAcreateserial -days 2 -extfile "$OUT/ca/ext.cnf" -out "$OUT/ca/server.pem" 2>/dev/null
    chmod 644 "$OUT/ca/server.key"   # mosquitto drops to its own user before reading it
    broker_args+=(--tls-cert "$OUT/ca/server.pem" --tls-key "$OUT/ca/server.key"
                  --tls-ticket-key "$OUT/ticket.key")
    scheme=https
    curl_tls=(--cacert "$OUT/ca/ca.pem")
    loadgen_tls=(--tls --tls-resume "${BENCH_TLS_RESUME:-1}")
fi
# room for N consoles and the controller above the default cap of 19,000
# connections (a later --max-connections in BENCH_BROKER_ARGS wins)
broker_args+=(--max-connections $((N + 100)))
# shellcheck disable=SC2206  # extra broker options, split on spaces on purpose
broker_args+=(${BENCH_BROKER_ARGS:-})
if "$OUT/tocsind" --help 2>&1 | grep -q -- '--journal'; then
    rm -rf "$OUT/journal"
    mkdir -p "$OUT/journal"
    broker_args+=(--journal "$OUT/journal/tocsin.journal")
fi
# The broker's start, as a script: run here, and again by the load
# generator for the storm after a restart (it prints the new pid).
{
    echo '#!/usr/bin/env bash'
    echo '# Written by bench/run.sh: stops the broker of broker.pid (if any), starts'
    echo '# it again, waits until it is healthy, prints its pid.'
    echo 'set -u'
    printf 'OUT=%q\n' "$OUT"
    printf 'URL=%q\n' "$scheme://127.0.0.1:$PORT/healthz"
    printf 'CURL_TLS=(%s)\n' "$(printf '%q ' "${curl_tls[@]}")"
    printf 'ARGS=(%s)\n' "$(printf '%q ' "${broker_args[@]}" --listen "127.0.0.1:$PORT")"
    cat <<'SCRIPT'
old=$(cat "$OUT/broker.pid" 2>/dev/null || true)
if [[ -n "$old" ]] && kill -0 "$old" 2>/dev/null; then
    kill -TERM "$old"
    for (( i = 0; i < 200; i++ )); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$old" 2>/dev/null && { echo "bench: the broker did not stop" >&2; exit 1; }
fi
# TOCSIN_ALLOW_ROOT: tocsind refuses to run as root without --user otherwise
TOCSIN_ALLOW_ROOT=1 setsid "$OUT/tocsind" "${ARGS[@]}" >> "$OUT/broker.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$OUT/broker.pid"
for (( i = 0; i < 200; i++ )); do
    if curl -fsS --max-time 1 "${CURL_TLS[@]}" "$URL" 2>/dev/null | grep -q '"db":"up"'; then
        echo "$pid"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "bench: tocsind exited at start" >&2; exit 1; }
    sleep 0.1
done
echo "bench: tocsind did not become healthy within 20 s" >&2
kill -TERM "$pid" 2>/dev/null   # started here, with no one else to stop it
exit 1
SCRIPT
} > "$OUT/start-broker.sh"
chmod +x "$OUT/start-broker.sh"
rm -f "$OUT/broker.pid" "$OUT/broker.log"
say "starting tocsind on $scheme://127.0.0.1:$PORT (log: $OUT/broker.log)"
broker_pid="$("$OUT/start-broker.sh")" \
    || die "tocsind did not start: $(tail -n 5 "$OUT/broker.log")"
addr="$(listening_on "$PORT")"
[[ "$addr" == "127.0.0.1:$PORT " ]] || die "tocsind listens on '$addr', not 127.0.0.1 only"
# start_tocsind PORT LOG [ARG...]: a further tocsind for the two-node
# scenario, with broker_args and ARGs, on 127.0.0.1:PORT; waits until it is
# healthy and listens there only; its pid in started_pid.
start_tocsind() {
    local port="$1" log="$2" i addr
    shift 2
    say "starting tocsind on 127.0.0.1:$port (log: $log)"
    # TOCSIN_ALLOW_ROOT: tocsind refuses to run as root without --user otherwise
    TOCSIN_ALLOW_ROOT=1 "$OUT/tocsind" "${broker_args[@]}" --listen "127.0.0.1:$port" "$@" > "$log" 2>&1 &
    started_pid=$!
    for (( i = 0; i < 100; i++ )); do
        if curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"db":"up"'; then
            break
        fi
        kill -0 "$started_pid" 2>/dev/null || die "tocsind exited at start: $(tail -n 5 "$log")"
        sleep 0.2
    done
    curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" | grep -q '"db":"up"' \
        || die "tocsind did not become healthy within 20 s"
    addr="$(listening_on "$port")"
    [[ "$addr" == "127.0.0.1:$port " ]] || die "tocsind listens on '$addr', not 127.0.0.1 only"
}

# ---- meta ---------------------------------------------------------------------
{
    echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "n $N"
    echo "sites $SITES"
    echo "nproc $(nproc)"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel $(uname -r)"
    echo "mem_gib $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "loadavg_before $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
    echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- broker 2>/dev/null || echo +dirty-broker)"
    echo "libwebsockets $(pkg-config --modversion libwebsockets)"
    echo "postgresql $(psql_s -tA -c 'SHOW server_version' | cut -d' ' -f1)"
    echo "ack_alerts $ACK_ALERTS"
    echo "tls $TLS"
    echo "openssl $(openssl version | cut -d' ' -f2)"
} > "$OUT/meta.txt"

# ---- Tocsin ---------------------------------------------------------------------
if [[ "${BENCH_PERF:-0}" == 1 ]] && command -v perf >/dev/null; then
    # shellcheck disable=SC2086  # word splitting of the options is wanted
    perf record -F 499 ${BENCH_PERF_ARGS:--g} -p "$broker_pid" -o "$OUT/perf-tocsind.data" >/dev/null 2>&1 &
    perf_pid=$!
fi
say "Tocsin: N=$N (progress below; full log $OUT/loadgen-tocsin.log)"
read -ra loadgen_extra <<< "${BENCH_LOADGEN_ARGS:-}"
rm -f "$OUT/tocsin.txt" "$OUT/mosquitto.txt"
snap_before="$(cpu_snapshot)"
rc=0
timeout -k 5 "$LOADGEN_TIMEOUT" "$OUT/loadgen" tocsin --port "$PORT" --n "$N" \
    --users "$OUT/users.txt" --key "$OUT/token.key" --controller "$CONTROLLER" \
    --orgs "$ORGS" --broker-pid "$broker_pid" --pg-pid "$(head -n 1 "$VAR/pg/postmaster.pid")" \
    --db "$SUPER_URL" \
    --ack-alerts "$ACK_ALERTS" --out "$OUT/tocsin.txt" "${loadgen_tls[@]}" \
    --restart-cmd "$OUT/start-broker.sh" "${loadgen_extra[@]}" \
    2> >(tee "$OUT/loadgen-tocsin.log" >&2) || rc=$?
(( rc == 0 )) || say "the Tocsin load generator ended with status $rc"
echo "others_cpu_tocsin $(others_cpu "$snap_before" "$(cpu_snapshot)" $$)" >> "$OUT/meta.txt"
broker_pid="$(cat "$OUT/broker.pid")"   # the restart storm started another
if [[ -n "$perf_pid" ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    for (( i = 0; i < 100; i++ )); do kill -0 "$perf_pid" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$perf_pid" perf
    perf_pid=""
    perf report -i "$OUT/perf-tocsind.data" --stdio --no-children --percent-limit 0.5 \
        > "$OUT/perf-tocsind.txt" 2>/dev/null || true
fi
if kill -0 "$broker_pid" 2>/dev/null; then
    echo "tocsind_alive 1" >> "$OUT/meta.txt"
    stop_pid "$broker_pid" tocsind
else
    wait "$broker_pid" 2>/dev/null && brc=0 || brc=$?
    echo "tocsind_alive 0" >> "$OUT/meta.txt"
    echo "tocsind_exit $brc" >> "$OUT/meta.txt"
    say "tocsind died during the run (status $brc); see $OUT/broker.log"
fi
broker_pid=""
echo "tocsind_log_warnings $(grep -c . "$OUT/broker.log" || true)" >> "$OUT/meta.txt"
echo "tocsind_log_4409 $(grep -c 'too slow' "$OUT/broker.log" || true)" >> "$OUT/meta.txt"

# ---- the kernel's floor ---------------------------------------------------------------
# What one send() to each of N loopback connections costs with no broker at
# all (bench/send_floor.c), with the solo alert's frame size: the least that
# "one alert to all" can take on this machine. Run with the broker stopped.
frame_bytes="$(awk '$1 == "solo.frame_bytes" && $2 > 0 { print $2 }' "$OUT/tocsin.txt" 2>/dev/null)"
say "kernel floor: one ${frame_bytes:-400}-byte send to each of $N loopback connections, no broker"
rm -f "$OUT/floor.txt"
timeout -k 5 120 "$OUT/send-floor" --n "$N" --bytes "${frame_bytes:-400}" --rounds 20 \
    > "$OUT/floor.txt" || { say "the kernel floor measurement failed (bench/send_floor.c)"; rm -f "$OUT/floor.txt"; }

# ---- Mosquitto --------------------------------------------------------------------
if [[ "${BENCH_MOSQUITTO:-1}" != 0 ]]; then
    if ! command -v mosquitto >/dev/null; then
        if (( EUID == 0 )); then
            say "installing mosquitto (Debian)"
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto >/dev/null
        else
            say "mosquitto is not installed (sudo apt-get install -y mosquitto); skipping the comparison"
        fi
    fi
fi
if [[ "${BENCH_MOSQUITTO:-1}" != 0 ]] && command -v mosquitto >/dev/null; then
    port_free "$MQTT_PORT" || die "port $MQTT_PORT is in use (set BENCH_MQTT_PORT)"
    port_free "$WS_PORT" || die "port $WS_PORT is in use (set BENCH_MQTT_PORT)"
    # 2.0.11 will not start with a WebSocket listener only, so a plain MQTT
    # one comes first. Its WebSocket listener given just 127.0.0.1 listens on
    # all interfaces; with socket_domain ipv4 it keeps to 127.0.0.1 (checked
    # below with ss).
    cat > "$OUT/mosquitto.conf" <<EOF
# Written by bench/run.sh.
per_listener_settings false
allow_anonymous true
persistence false
allow_duplicate_messages true
max_connections -1
log_dest stderr
log_type error
log_type warning
listener $MQTT_PORT 127.0.0.1
listener $WS_PORT 127.0.0.1
protocol websockets
socket_domain ipv4
bind_interface lo
EOF
    if [[ "$TLS" == 1 ]]; then
        # the same certificate and key as the broker's, TLS 1.3 as there
        printf 'certfile %s\nkeyfile %s\ntls_version tlsv1.3\n' \
            "$OUT/ca/server.pem" "$OUT/ca/server.key" >> "$OUT/mosquitto.conf"
    fi
    say "starting mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p') (WebSocket on 127.0.0.1:$WS_PORT)"
    mosquitto -c "$OUT/mosquitto.conf" > "$OUT/mosquitto.log" 2>&1 &
    mosq_pid=$!
    for (( i = 0; i < 50; i++ )); do
        ! port_free "$WS_PORT" && break
        kill -0 "$mosq_pid" 2>/dev/null || die "mosquitto exited at start: $(tail -n 5 "$OUT/mosquitto.log")"
        sleep 0.1
    done
    addr="$(listening_on "$WS_PORT")"
    [[ "$addr" == "127.0.0.1:$WS_PORT " ]] || die "mosquitto's WebSocket listener is on '$addr', not 127.0.0.1 only"
    echo "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p')" >> "$OUT/meta.txt"
    sleep 0.5
    say "Mosquitto: N=$N (full log $OUT/loadgen-mosquitto.log)"
    rc=0
    snap_before="$(cpu_snapshot)"
    timeout -k 5 "$LOADGEN_TIMEOUT" "$OUT/loadgen" mqtt --port "$WS_PORT" --n "$N" \
        --broker-pid "$mosq_pid" --out "$OUT/mosquitto.txt" "${loadgen_tls[@]}" \
        2> >(tee "$OUT/loadgen-mosquitto.log" >&2) || rc=$?
    (( rc == 0 )) || say "the Mosquitto load generator ended with status $rc"
    echo "others_cpu_mosquitto $(others_cpu "$snap_before" "$(cpu_snapshot)" $$)" >> "$OUT/meta.txt"
    kill -0 "$mosq_pid" 2>/dev/null && echo "mosquitto_alive 1" >> "$OUT/meta.txt" \
        || echo "mosquitto_alive 0" >> "$OUT/meta.txt"
    stop_pid "$mosq_pid" mosquitto
    mosq_pid=""
fi

# ---- two nodes on one database (issue 20) ----------------------------------------
# Node 1 on PORT, node 2 on PORT+2, the same database and keys; N/2 consoles on
# each (every other one: loadgen --port2) and the controller on node 1. The
# fan-out phases only: each reports the latency of node 1's consoles (local)
# and of node 2's (cross: NOTIFY, then node 2's catch-up read), under the same
# load, and BENCH_LOADGEN_ARGS as the single-node run had them; build/bench/two-nodes.txt, a row of the table and "two_nodes" in
# results.json. BENCH_TWO_NODES=0 skips it (about a minute at N = 10,000).
# (plain only: the nodes are started over http)
if [[ "${BENCH_TWO_NODES:-1}" != 0 && "$TLS" == 0 ]]; then
    PORT2=$((PORT + 2))
    port_free "$PORT" || die "port $PORT is in use"
    port_free "$PORT2" || die "port $PORT2 is in use (set BENCH_PORT)"
    rm -rf "$OUT/journal-1" "$OUT/journal-2"
    mkdir -p "$OUT/journal-1" "$OUT/journal-2"
    start_tocsind "$PORT" "$OUT/broker-node1.log" --node-id 1 --journal "$OUT/journal-1/tocsin.journal"
    broker_pid=$started_pid
    start_tocsind "$PORT2" "$OUT/broker-node2.log" --node-id 2 --journal "$OUT/journal-2/tocsin.journal"
    node2_pid=$started_pid
    for (( i = 0; i < 100; i++ )); do
        [[ "$(psql_s -tA -c "SELECT count(*) FROM tocsin_nodes()")" == 2 ]] && break
        sleep 0.2
    done
    [[ "$(psql_s -tA -c "SELECT count(*) FROM tocsin_nodes()")" == 2 ]] \
        || die "the two nodes did not both take their node id's lock within 20 s"
    say "Tocsin, two nodes: N=$N, half on each (full log $OUT/loadgen-two-nodes.log)"
    rm -f "$OUT/two-nodes.txt"
    rc=0
    timeout -k 5 "$LOADGEN_TIMEOUT" "$OUT/loadgen" tocsin --port "$PORT" --port2 "$PORT2" --n "$N" \
        --users "$OUT/users.txt" --key "$OUT/token.key" --controller "$CONTROLLER" \
        --orgs "$ORGS" --broker-pid "$broker_pid" --pg-pid "$(head -n 1 "$VAR/pg/postmaster.pid")" \
        --db "$SUPER_URL" --ack-alerts 0 --no-storm --no-status --out "$OUT/two-nodes.txt" \
        "${loadgen_extra[@]}" \
        2> >(tee "$OUT/loadgen-two-nodes.log" >&2) || rc=$?
    (( rc == 0 )) || say "the two-node load generator ended with status $rc"
    stop_pid "$node2_pid" "tocsind (node 2)"
    stop_pid "$broker_pid" "tocsind (node 1)"
    node2_pid=""
    broker_pid=""
fi

# ---- the report ---------------------------------------------------------------------
args=(--meta "$OUT/meta.txt" --tocsin "$OUT/tocsin.txt" --json "$OUT/results.json")
[[ -f "$OUT/mosquitto.txt" ]] && args+=(--mosquitto "$OUT/mosquitto.txt")
[[ -f "$OUT/floor.txt" ]] && args+=(--floor "$OUT/floor.txt")
"$OUT/report" "${args[@]}" | tee "$OUT/results.txt"

# ---- ANPR matching (issue 8): one core, in memory, no broker -------------------
# build/anpr-bench times the adapter's per-read path over 2,000,000 generated
# reads (10,000-plate hotlist, 1 % hits); its JSON goes to build/bench/anpr.json,
# into results.json as "anpr_matching" and a target, and a row of the table.
say "ANPR matching: build/anpr-bench (2,000,000 reads, 10,000 hotlisted plates, 1 % hits)"
if make --no-print-directory -C "$ROOT" build/anpr-bench >/dev/null \
   && timeout -k 5 120 "$ROOT/build/anpr-bench" > "$OUT/anpr.json"; then
    node -e '
        const fs = require("fs");
        const [anprFile, resultsFile] = process.argv.slice(1);
        const a = JSON.parse(fs.readFileSync(anprFile, "utf8"));
        const ok = a.reads_per_cpu_s >= a.target_reads_per_s;
        const detail = `${a.reads_per_cpu_s} reads per CPU second (wall ${a.reads_per_s}/s; jansson would give ${a.jansson_reads_per_s}/s)`;
        const row = { target: "ANPR matching >= 50,000 reads/s on one core", result: ok ? "PASS" : "MISS",
                      measured: a.reads_per_cpu_s, limit: a.target_reads_per_s, unit: "reads/s", detail };
        if (fs.existsSync(resultsFile)) {
            const r = JSON.parse(fs.readFileSync(resultsFile, "utf8"));
            r.anpr_matching = a;
            if (Array.isArray(r.targets)) r.targets.push(row);
            fs.writeFileSync(resultsFile, JSON.stringify(r, null, 2) + "\n");
        }
        console.log(`  ${row.result}  ${row.target.padEnd(59)}${detail}`);
    ' "$OUT/anpr.json" "$OUT/results.json" | tee -a "$OUT/results.txt" \
        || say "could not add the ANPR matching row to results.json"
else
    say "the ANPR matching bench failed (build/anpr-bench)"
fi
# ---- the crime picture (issue 21): PostgreSQL alone, no broker ------------------
# bench/crime.sh: 500,000 generated crime records, the picture of a year
# (grid with Gi*, times, heat, trend) p50/p95, and importing a police.uk
# file of 100,000 rows; its JSON goes to build/bench/crime.json, into
# results.json as "crime" and two targets.
say "crime picture: bench/crime.sh (500,000 records; a police.uk import of 100,000 rows)"
ADMIN_PG_URL="$("$ROOT/deploy/pg-local.sh" url "$VAR" postgres postgres)"
if timeout -k 5 900 bash "$ROOT/bench/crime.sh" "$ADMIN_PG_URL" "$OUT" > "$OUT/crime.txt"; then
    node -e '
        const fs = require("fs");
        const [crimeFile, resultsFile] = process.argv.slice(1);
        const c = JSON.parse(fs.readFileSync(crimeFile, "utf8"));
        const rows = [
            { target: "crime grid + times of a year, 500,000 records, p95 <= 300 ms",
              result: c.picture_p95_ms <= c.picture_target_ms ? "PASS" : "MISS",
              measured: c.picture_p95_ms, limit: c.picture_target_ms, unit: "ms",
              detail: `p50 ${c.picture_p50_ms} ms, p95 ${c.picture_p95_ms} ms (${c.picture_records_in_year} records in the year)` },
            { target: "police.uk import of 100,000 rows <= 5 s",
              result: c.import_s <= c.import_target_s ? "PASS" : "MISS",
              measured: c.import_s, limit: c.import_target_s, unit: "s",
              detail: `${c.import_rows} rows in ${Number(c.import_s).toFixed(2)} s` },
        ];
        if (fs.existsSync(resultsFile)) {
            const r = JSON.parse(fs.readFileSync(resultsFile, "utf8"));
            r.crime = c;
            if (Array.isArray(r.targets)) r.targets.push(...rows);
            fs.writeFileSync(resultsFile, JSON.stringify(r, null, 2) + "\n");
        }
        for (const row of rows) console.log(`  ${row.result}  ${row.target.padEnd(59)}${row.detail}`);
    ' "$OUT/crime.json" "$OUT/results.json" | tee -a "$OUT/results.txt" \
        || say "could not add the crime rows to results.json"
else
    say "the crime bench failed (bench/crime.sh; see $OUT/crime.txt)"
fi
if [[ -f "$OUT/two-nodes.txt" ]]; then
    node "$ROOT/bench/two_nodes.js" "$OUT/tocsin.txt" "$OUT/two-nodes.txt" "$OUT/results.json" \
        | tee -a "$OUT/results.txt" || say "could not add the two-node rows to results.json"
fi
say "results: $OUT/results.json (table: $OUT/results.txt)"
