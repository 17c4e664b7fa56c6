#!/bin/sh
# golden_test.sh STRATA_TOOL GOLDEN_DIR - Strata reads a database written by
# LevelDB 1.23 (GOLDEN_DIR/db) and must dump exactly GOLDEN_DIR/expected.dump,
# LevelDB's own dump of it. Needs no libleveldb. See README.md.
set -u
ST=$1
G=$2
W=$(mktemp -d "${TMPDIR:-/tmp}/strata-golden.XXXXXX") || exit 2
mkdir "$W/db"
cp "$G"/db/* "$W/db/" || exit 2
pass=0
fail=0
check() {
  if "$ST" dump "$W/db" >"$W/out" && cmp -s "$G/expected.dump" "$W/out"; then
    pass=$((pass + 1))
    echo "ok   $1"
  else
    fail=$((fail + 1))
    echo "FAIL $1: Strata's dump differs from LevelDB's; first differences:"
    diff "$G/expected.dump" "$W/out" | head -10 | cut -c1-200
  fi
}
check "golden: Strata reads LevelDB's tables, MANIFEST and log"
check "golden: Strata reads it again after its own recovery"
echo "$pass passed, $fail failed"
if [ "$fail" -eq 0 ]; then rm -rf "$W"; exit 0; fi
echo "scratch directory kept: $W"
exit 1
