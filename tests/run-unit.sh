#!/usr/bin/env bash
# tests/run-unit.sh BINARY...
#
# Runs each cmocka unit-test binary, shows its output, and ends with one line
#   unit: N passed, N failed
# Exit status 1 when any test failed, or a binary crashed, timed out, or
# exited non-zero without reporting a failure.
set -u

per_binary_timeout=${TOCSIN_UNIT_TIMEOUT:-120}
# Sanitizer builds: report leaks, keep going to the summary, print stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ "$#" -eq 0 ]; then
    echo "run-unit: no unit-test binaries given"
fi

for bin in "$@"; do
    echo "=== $bin"
    if [ ! -x "$bin" ]; then
        echo "run-unit: $bin is missing or not executable"
        failed=$((failed + 1)); status=1
        continue
    fi
    # cmocka prints the summary lines on stderr: keep both streams, in order.
    timeout --kill-after=5 "$per_binary_timeout" "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    # A binary may run several groups: add up every summary line.
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    # cmocka reports the number of failures as the exit status; anything else
    # (a signal, a sanitizer's exit code, a timeout, no summary) is a crash.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        case $rc in
            124|137) why="timed out after ${per_binary_timeout}s" ;;
            *) if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"; else why="exit status $rc"; fi ;;
        esac
        echo "run-unit: $bin crashed or failed without a cmocka report ($why)"
        f=1
    elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "run-unit: $bin reported no test results"
        f=1
    fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$out"; then
        echo "run-unit: $bin printed a sanitizer report"
        [ "$f" -eq 0 ] && f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -ne 0 ] && status=1
done

echo "unit: $passed passed, $failed failed"
exit $status
