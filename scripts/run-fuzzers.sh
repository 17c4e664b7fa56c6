#!/bin/sh
# Runs every libFuzzer program of a fuzz build (made by `make fuzz`) for a
# given time, each from its committed seed corpus (fuzz/corpus/<name>,
# read-only) and a working corpus of its own (<build>/fuzz-work/<name>/
# corpus, kept between runs). Prints each fuzzer's executions and a total;
# a crash, leak or sanitizer report stops that fuzzer, leaves the input in
# <build>/fuzz-work/<name>/crashes/ and makes the script fail.
#
# Usage: sh scripts/run-fuzzers.sh [BUILD_DIR [SECONDS_EACH]]
set -u
BUILD=${1:-build-fuzz}
SECS=${2:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
status=0
total=0
for src in "$ROOT"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  bin="$BUILD/fuzz/fuzz_$name"
  if [ ! -x "$bin" ]; then
    echo "fuzz_$name: not built (a FUZZ_LIBS target missing? see the cmake output)"
    continue
  fi
  work="$BUILD/fuzz-work/$name"
  mkdir -p "$work/corpus" "$work/crashes"
  if "$bin" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$work/crashes/" \
      "$work/corpus" "$ROOT/fuzz/corpus/$name" > "$work/log.txt" 2>&1; then
    result="no crash"
  else
    result="FAILED: see $work/log.txt; input in $work/crashes/"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$work/log.txt" | tail -n 1)
  [ -n "$execs" ] || execs=0
  total=$((total + execs))
  printf 'fuzz_%-10s %10s executions in %ss: %s\n' "$name" "$execs" "$SECS" "$result"
done
printf 'all fuzzers: %s executions\n' "$total"
if [ "$status" != 0 ]; then
  echo "A crash: minimise it (<fuzzer> -minimize_crash=1 -runs=10000 FILE), fix it, and commit"
  echo "the reproducer to fuzz/crashes/<name>/ so that make test replays it (fuzz/README.md)."
fi
exit $status
