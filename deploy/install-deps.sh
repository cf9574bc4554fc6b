#!/usr/bin/env bash
# deploy/install-deps.sh [--test|--fuzz]: make sure the Debian packages Tocsin needs
# to build and run are installed (with --test: also what the tests need, and
# the npm packages of tests/).
#
# As root, missing packages are installed with apt-get. As any other user the
# script prints the exact command to run and exits 1. When nothing is missing
# it prints one short line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { echo "usage: deploy/install-deps.sh [--test|--fuzz]" >&2; exit 2; }

with_tests=0
with_fuzz=0  # --fuzz (make fuzz): clang with libFuzzer (tests/fuzz/README.md)
case "$#:${1:-}" in
    0:) ;;
    1:--test) with_tests=1 ;;
    1:--fuzz) with_fuzz=1 ;;
    *) usage ;;
esac

# Build and run: compiler, libraries, PostgreSQL with PostGIS (the crime
# records' geometry: sql/migrations/047_crime_records.sql), and util-linux
# (setpriv, used to run PostgreSQL unprivileged when we are root).
pkgs=(gcc make pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev
      libpq-dev libsodium-dev libzmq3-dev libxml2-dev libcmocka-dev libssl-dev libinih-dev
      libxmlsec1-dev postgresql postgresql-15-postgis-3 util-linux)

# A Node.js that did not come from Debian (NodeSource, nvm...) is fine as long
# as it is 18 or newer and has npm: installing Debian's nodejs/npm over it
# would conflict.
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 1
    local major
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
    [[ "$major" =~ ^[0-9]+$ ]] && (( major >= 18 ))
}

# Node.js and npm build the web consoles' assets (mk/web.mk: npm ci in
# web-client/), so `make run` needs them too.
node_ok || pkgs+=(nodejs npm)
# The tests also build the Debian package (dpkg-dev, debhelper and
# build-essential, which dpkg-buildpackage requires: build tools of the
# test only, never the package's dependencies), render the man pages
# (man-db), check the systemd unit (systemd-analyze, in systemd) and put
# deploy/nginx/tocsin.conf in front of the broker (nginx); libfaketime
# (faketime) moves the broker's wall clock in e2e 86; xmlsec1 checks the
# XML Signature of CAP exports (e2e 111, 112).
if (( with_tests )); then
    pkgs+=(chromium openssl dpkg-dev debhelper build-essential man-db systemd nginx faketime xmlsec1)
fi

# libFuzzer's runtime (libclang_rt.fuzzer) is only recommended by clang, so
# it is named: with --no-install-recommends it would be left out.
if (( with_fuzz )); then
    pkgs+=(clang libclang-rt-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == installed ]] || missing+=("$p")
done

if (( ${#missing[@]} )); then
    if (( EUID == 0 )); then
        echo "install-deps: installing ${missing[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    else
        {
            echo "install-deps: missing Debian packages: ${missing[*]}"
            echo "install-deps: install them with:"
            echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        } >&2
        exit 1
    fi
    # nodejs from Debian may still be too old or lack npm: say so plainly.
    if ! node_ok; then
        echo "install-deps: node >= 18 and npm are needed (web assets, tests)" >&2
        exit 1
    fi
else
    echo "install-deps: all ${#pkgs[@]} Debian packages present"
fi

# The tests' npm packages: (re)install when the lock file is newer than
# node_modules (npm ci starts from a clean node_modules every time).
if (( with_tests )) && [[ -f "$ROOT/tests/package-lock.json" ]]; then
    mods="$ROOT/tests/node_modules"
    if [[ ! -d "$mods" || "$ROOT/tests/package-lock.json" -nt "$mods" ]]; then
        echo "install-deps: npm ci in tests/"
        npm ci --prefix "$ROOT/tests" --no-audit --no-fund
        mkdir -p "$mods"
        touch "$mods"
    fi
fi
