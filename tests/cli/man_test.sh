#!/bin/sh
# man_test.sh - strata(1) renders with 'man -l' without any warning and has a
# section for every command 'strata --help' lists.
#
# usage: sh man_test.sh STRATA_BINARY STRATA_1
S=$1
PAGE=$2
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-man-test.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
if [ ! -s "$PAGE" ]; then
  echo "FAIL: $PAGE was not built"
  echo "0 passed, 1 failed"
  exit 1
fi
MANWIDTH=80 man --warnings -l "$PAGE" >"$T/page" 2>"$T/warnings"
if [ $? -eq 0 ] && [ ! -s "$T/warnings" ]; then pass=$((pass + 1)); else
  fail=$((fail + 1))
  echo "FAIL: man -l warns:"
  sed 's/^/    /' "$T/warnings"
fi
for c in $("$S" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do
  if grep -q "^   strata $c\$" "$T/page" && grep -q "usage: strata $c" "$T/page"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: strata(1) has no section for '$c'"
  fi
done
for s in "EXIT STATUS" "SEE ALSO" "COMMANDS"; do
  if grep -q "^$s" "$T/page"; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: strata(1) has no $s section"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
