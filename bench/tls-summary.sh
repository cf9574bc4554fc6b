#!/usr/bin/env bash
# bench/tls-summary.sh PLAIN_DIR TLS_DIR: issue 22's comparison of one
# `make bench` run's plain and TLS halves (bench/run.sh runs it after
# both): idle memory per connection, paced fan-out p99 and burst rate, the
# broker's CPU per full handshake (the first connect of N consoles, minus
# the same connect in plain) and per resumed reconnect (the storm, and the
# storm right after a restart), with the targets of the issue. Reads the
# "key value" files the load generator wrote; prints text only.
set -euo pipefail
plain="$1" tls="$2"
for f in "$plain/tocsin.txt" "$tls/tocsin.txt"; do
    [[ -f "$f" ]] || { echo "tls-summary: no $f" >&2; exit 1; }
done
none="$(mktemp)"
trap 'rm -f "$none"' EXIT
mq_plain="$plain/mosquitto.txt"; [[ -f "$mq_plain" ]] || mq_plain="$none"
mq_tls="$tls/mosquitto.txt"; [[ -f "$mq_tls" ]] || mq_tls="$none"
awk -v busy="$(grep -h '^others_cpu' "$plain/meta.txt" "$tls/meta.txt" 2>/dev/null | tr '\n' ' ')" '
    # the part is the place of the file among the arguments (an empty file has
    # no lines, so counting first lines would shift the later ones)
    FNR == 1 { for (i = 1; i < ARGC; i++) if (ARGV[i] == FILENAME) part = i }
    { v[part, $1] = $2 }
    function g(p, k) { return ((p, k) in v) ? v[p, k] + 0 : -1 }
    function row(what, a, b, unit) {
        printf "  %-46s %12s %12s  %s\n", what, a, b, unit
    }
    function f1(x) { return x < 0 ? "-" : sprintf("%.1f", x) }
    function f2(x) { return x < 0 ? "-" : sprintf("%.2f", x) }
    function f3(x) { return x < 0 ? "-" : sprintf("%.3f", x) }
    function check(ok, what) { printf "  %s  %s\n", ok ? "PASS" : "MISS", what }
    END {
        # parts: 1 Tocsin plain, 2 Tocsin TLS, 3 Mosquitto plain, 4 Mosquitto TLS
        n = g(2, "n")
        printf "TLS 1.3 beside plain, N=%d (one run; other programs on the machine: %s)\n", n, busy
        row("", "plain", "TLS", "")
        row("Tocsin idle bytes per connection", f1(g(1, "idle.bytes_per_conn")), f1(g(2, "idle.bytes_per_conn")), "B")
        row("Mosquitto idle bytes per connection", f1(g(3, "idle.bytes_per_conn")), f1(g(4, "idle.bytes_per_conn")), "B")
        row("Tocsin paced p99", f1(g(1, "paced.lat_p99_ms")), f1(g(2, "paced.lat_p99_ms")), "ms")
        row("Mosquitto paced p99", f1(g(3, "paced.lat_p99_ms")), f1(g(4, "paced.lat_p99_ms")), "ms")
        row("Tocsin burst deliveries/s", f1(g(1, "burst.deliveries_per_s")), f1(g(2, "burst.deliveries_per_s")), "/s")
        row("Mosquitto burst deliveries/s", f1(g(3, "burst.deliveries_per_s")), f1(g(4, "burst.deliveries_per_s")), "/s")
        row("connect of N: broker CPU", f2(g(1, "connect.cpu_broker_s")), f2(g(2, "connect.cpu_broker_s")), "s")
        row("storm: all back", f2(g(1, "storm.all_back_s")), f2(g(2, "storm.all_back_s")), "s")
        row("storm: retries (failed attempts)", g(1, "storm.retries"), g(2, "storm.retries"), "")
        row("storm: broker CPU", f2(g(1, "storm.cpu_broker_s")), f2(g(2, "storm.cpu_broker_s")), "s")
        row("storm: TLS resumed / full", "-", g(2, "storm.tls_resumed") " / " g(2, "storm.tls_full"), "")
        row("restart storm: all back", f2(g(1, "restart.all_back_s")), f2(g(2, "restart.all_back_s")), "s")
        row("restart storm: retries", g(1, "restart.retries"), g(2, "restart.retries"), "")
        row("restart storm: broker CPU", f2(g(1, "restart.cpu_broker_s")), f2(g(2, "restart.cpu_broker_s")), "s")
        row("restart storm: TLS resumed / full", "-", g(2, "restart.tls_resumed") " / " g(2, "restart.tls_full"), "")
        full_ms = n > 0 ? (g(2, "connect.cpu_broker_s") - g(1, "connect.cpu_broker_s")) * 1000 / n : -1
        res_ms = n > 0 ? (g(2, "storm.cpu_broker_s") - g(1, "storm.cpu_broker_s")) * 1000 / n : -1
        rres_ms = n > 0 ? (g(2, "restart.cpu_broker_s") - g(1, "restart.cpu_broker_s")) * 1000 / n : -1
        printf "  broker CPU of TLS per full handshake %.3f ms, per resumed reconnect %.3f ms (storm), %.3f ms (after a restart)\n", full_ms, res_ms, rres_ms
        p99r = g(1, "paced.lat_p99_ms") > 0 ? g(2, "paced.lat_p99_ms") / g(1, "paced.lat_p99_ms") : -1
        bur = g(4, "burst.deliveries_per_s") > 0 ? g(2, "burst.deliveries_per_s") / g(4, "burst.deliveries_per_s") : -1
        check(g(2, "idle.bytes_per_conn") >= 0 && g(2, "idle.bytes_per_conn") <= 8192, sprintf("idle memory per wss connection <= 8 KiB: %.0f B", g(2, "idle.bytes_per_conn")))
        check(g(2, "storm.retries") == 0 && g(2, "storm.all_back_s") >= 0 && g(2, "storm.all_back_s") <= 6 && g(2, "storm.tls_resumed") == n, sprintf("storm with resumption: all %d resumed, none failed, back within 6 s: %s s, %d resumed, %d retries", n, f2(g(2, "storm.all_back_s")), g(2, "storm.tls_resumed"), g(2, "storm.retries")))
        check(g(2, "restart.retries") == 0 && g(2, "restart.all_back_s") >= 0 && g(2, "restart.all_back_s") <= 6 && g(2, "restart.tls_resumed") == n, sprintf("the same right after a restart: %s s, %d resumed, %d retries", f2(g(2, "restart.all_back_s")), g(2, "restart.tls_resumed"), g(2, "restart.retries")))
        check(res_ms >= 0 && res_ms <= 0.25, sprintf("broker CPU per resumed reconnect <= 0.25 ms: %.3f ms", res_ms))
        check(full_ms >= 0 && full_ms <= 0.5, sprintf("broker CPU per full handshake <= 0.5 ms: %.3f ms", full_ms))
        check(p99r > 0 && p99r <= 1.4, sprintf("paced p99 over wss <= 1.4 x plain: %.2f x", p99r))
        check(bur >= 3, sprintf("burst over TLS >= 3 x Mosquitto over TLS: %.2f x", bur))
    }' "$plain/tocsin.txt" "$tls/tocsin.txt" "$mq_plain" "$mq_tls"
