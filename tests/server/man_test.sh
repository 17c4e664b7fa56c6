#!/bin/sh
# man_test.sh - strata-server(1) renders with 'man -l' without any warning,
# has its sections, and documents every option 'strata-server --help' lists.
#
# usage: sh man_test.sh STRATA_SERVER_BINARY STRATA_SERVER_1
S=$1
PAGE=$2
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-server-man-test.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
if [ ! -s "$PAGE" ]; then
  echo "FAIL: $PAGE was not built"
  echo "0 passed, 1 failed"
  exit 1
fi
MANWIDTH=100 man --warnings -l "$PAGE" >"$T/page" 2>"$T/warnings"
if [ $? -eq 0 ] && [ ! -s "$T/warnings" ]; then pass=$((pass + 1)); else
  fail=$((fail + 1))
  echo "FAIL: man -l warns:"
  sed 's/^/    /' "$T/warnings"
fi
opts=$("$S" --help | sed -n 's/^  \(--[a-z][a-z-]*\).*/\1/p')
[ -n "$opts" ] || { fail=$((fail + 1)); echo "FAIL: --help lists no option"; }
for o in $opts; do
  if grep -q -- "^ *$o\\b" "$T/page"; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: strata-server(1) does not document $o"
  fi
done
for s in "NAME" "SYNOPSIS" "OPTIONS" "SIGNALS" "EXIT STATUS" "SEE ALSO"; do
  if grep -q "^$s" "$T/page"; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: strata-server(1) has no $s section"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
