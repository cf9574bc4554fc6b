#!/usr/bin/env bash
# tests/checks/layers.sh: the layers of broker/ hold, and their checks can
# fail (make test runs every tests/checks/*.sh; exit 0 = passed).
#
#   1. mk/layers.sh passes on the tree as it is (the include rule, and the
#      exported names of the objects make built);
#   2. an upward include added on purpose (io/journal.c including handle.h)
#      is named by mk/layers.sh, which exits 1;
#   3. an upward call added on purpose (io/journal.c calling publish_handle)
#      fails the link check of io/ ($(BUILD)/layers/io.linked);
#   4. base/ including broker.h or <libpq-fe.h> is named too.
# 2-4 work on a copy of the tree in a temporary folder.
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() { echo "layers check: FAIL: $*"; failed=1; }

if ! out=$("$root/mk/layers.sh" 2>&1); then
    fail "mk/layers.sh fails on the tree as it is:"
    echo "$out"
fi

cp -r "$root/broker" "$root/mk" "$root/Makefile" "$root/adapters" "$tmp/"
perl -0pi -e 's/#include "journal.h"\n/#include "journal.h"\n#include "handle.h"\n/' \
    "$tmp/broker/io/journal.c"
out=$(MK_LAYERS_OBJ=/nonexistent "$tmp/mk/layers.sh" "$tmp/broker" 2>&1)
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q 'broker/io/journal.c:[0-9]*: includes handle.h of broker/handle/, above io/' <<<"$out"; then
    fail "an upward include was not named (exit $rc): $out"
fi
cp "$root/broker/io/journal.c" "$tmp/broker/io/journal.c"

cat >> "$tmp/broker/io/journal.c" <<'C'

/* added by tests/checks/layers.sh: a call upward, to a handler */
struct session;
struct client_frame;
void publish_handle(struct session *s, struct client_frame *f);
void journal_upward_probe(void);
void journal_upward_probe(void)
{
	publish_handle(0, 0);
}
C
if out=$(make -s -C "$tmp" BUILD=build -j2 build/layers/io.linked 2>&1); then
    fail "an upward call from io/ to handle/ linked"
elif ! grep -q "undefined reference to \`publish_handle'" <<<"$out" ||
     ! grep -q 'layers: broker/io/ calls upward' <<<"$out"; then
    fail "the upward call failed, but not at the layers' link check: $out"
fi

echo '#include "broker.h"' >> "$tmp/broker/base/ids.h"
echo '#include <libpq-fe.h>' >> "$tmp/broker/base/clock.h"
out=$(MK_LAYERS_OBJ=/nonexistent "$tmp/mk/layers.sh" "$tmp/broker" 2>&1)
grep -q 'broker/base/ids.h:[0-9]*: includes broker.h: base/ is pure' <<<"$out" ||
    fail "base/ including broker.h was not named: $out"
grep -q 'broker/base/clock.h:[0-9]*: includes <libpq-fe.h>' <<<"$out" ||
    fail "base/ including libpq-fe.h was not named: $out"

if [ "$failed" -eq 0 ]; then
    echo "layers check: passed (the tree holds; an upward include, an upward call and an impure base/ are each caught)"
fi
exit "$failed"
