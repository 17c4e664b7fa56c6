#!/bin/sh
# cli_bench.sh - the strata tool's long commands, side by side in one run
# (issue 12's performance goals; ratios, since the machine may be shared):
#
#   1. load of N sorted records: write batches (--no-bulk-load, the load
#      path before sorted bulk load) against sorted bulk load; goal >= 5x.
#   2. rewrite of an N-entry database against compact of the same database
#      (written in a scattered key order, so that compaction has work);
#      goal: rewrite at least as fast.
#   3. copy of a database of SIZE_MIB MiB: to the same file system (hard
#      links; goal < 1 s) and to another one (/dev/shm when it is another
#      file system) against cp -r of the same files (disk speed).
#
# usage: sh bench/cli_bench.sh [STRATA_BINARY] [WORKDIR]
#   STRATA_BINARY  default build/strata
#   WORKDIR        where the databases go (default: a temporary directory
#                  under build/); needs about 3 x SIZE_MIB + 1 GiB free
# Environment: CLI_BENCH_N (records, default 1000000), CLI_BENCH_SIZE_MIB
# (copy source size, default 1024), CLI_BENCH_REPEAT (rounds, default 3:
# each figure is the median of the rounds, the pairs interleaved).
# Besides wall time, the CPU time (user + system, all threads; GNU time)
# is shown: on a machine shared with other work it is the steadier figure.
# Needs /usr/bin/python3 (Debian's) to make the copy source's random values.
set -e
S=${1:-build/strata}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
[ -x "$S" ] || { echo "cli_bench: $S is not an executable (make build first)" >&2; exit 2; }
N=${CLI_BENCH_N:-1000000}
SIZE_MIB=${CLI_BENCH_SIZE_MIB:-1024}
REPEAT=${CLI_BENCH_REPEAT:-3}
W=${2:-$(mktemp -d "$(dirname "$S")/cli-bench.XXXXXX")}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# secs CMD...: runs CMD, prints "WALL CPU" in seconds (CPU = user + system
# of all its threads, from GNU time when installed, else "-").
secs() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%e %U %S" -o "$W/time.out" "$@" >/dev/null 2>&1 ||
      { echo "cli_bench: failed: $*" >&2; exit 1; }
    awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$W/time.out"
  else
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "cli_bench: failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f -", b - a }'
  fi
}

# col N FILE: column N of FILE's lines.
col() { awk -v c="$1" '{ print $c }' "$2"; }

# median of the numbers on stdin.
median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "cli_bench: $S, N=$N, copy source ${SIZE_MIB} MiB, $REPEAT rounds, in $W"
echo "machine: $(nproc) CPUs, $(uname -r); figures are medians of the rounds"
echo

# ---- 1. load of N sorted records ----
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "key%012d\nvalue-%012d-abcdefghijklmnopqrstuvwxyz0123456789\n", i, i }' \
  >"$W/sorted.txt"
: >"$W/t.batches"
: >"$W/t.bulk"
r=0
while [ $r -lt "$REPEAT" ]; do
  rm -rf "$W/l1" "$W/l2"
  secs "$S" load -q -T --no-bulk-load -f "$W/sorted.txt" "$W/l1" >>"$W/t.batches"
  echo >>"$W/t.batches"
  secs "$S" load -q -T -f "$W/sorted.txt" "$W/l2" >>"$W/t.bulk"
  echo >>"$W/t.bulk"
  r=$((r + 1))
done
tb=$(col 1 "$W/t.batches" | median)
tk=$(col 1 "$W/t.bulk" | median)
cb=$(col 2 "$W/t.batches" | median)
ck=$(col 2 "$W/t.bulk" | median)
echo "1. load of $N sorted records ($(wc -c <"$W/sorted.txt") bytes of -T text)     wall     CPU"
echo "   write batches (--no-bulk-load)  ${tb} s  ${cb} s"
echo "   sorted bulk load                ${tk} s  ${ck} s"
echo "   speed-up                        $(ratio "$tb" "$tk")x    $(ratio "$cb" "$ck")x   (goal: >= 5x)"
echo
rm -rf "$W/l2"

# ---- 2. rewrite against compact of an N-entry database ----
# The database is written by batches in a scattered key order (a
# multiplicative permutation of 0..N-1), so its tables overlap and compact
# has real merging to do; each round works on copies of it.
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) { k = (i * 2654435761) % n
  printf "key%012d\nvalue-%012d-abcdefghijklmnopqrstuvwxyz0123456789\n", k, i } }' >"$W/scattered.txt"
rm -rf "$W/l1"
"$S" load -q -T --no-bulk-load -f "$W/scattered.txt" "$W/l1"
rm -f "$W/scattered.txt"
: >"$W/t.compact"
: >"$W/t.rewrite"
r=0
while [ $r -lt "$REPEAT" ]; do
  rm -rf "$W/c" "$W/rw"
  cp -r "$W/l1" "$W/c"
  secs "$S" compact -q "$W/c" >>"$W/t.compact"
  echo >>"$W/t.compact"
  secs "$S" rewrite -q "$W/l1" "$W/rw" >>"$W/t.rewrite"
  echo >>"$W/t.rewrite"
  r=$((r + 1))
done
tc=$(col 1 "$W/t.compact" | median)
tr=$(col 1 "$W/t.rewrite" | median)
cc=$(col 2 "$W/t.compact" | median)
cr=$(col 2 "$W/t.rewrite" | median)
echo "2. an $N-entry database written in scattered order      wall     CPU"
echo "   compact                         ${tc} s  ${cc} s"
echo "   rewrite (sorted bulk load)      ${tr} s  ${cr} s"
echo "   compact / rewrite               $(ratio "$tc" "$tr")x    $(ratio "$cc" "$cr")x   (goal: >= 1x)"
echo
rm -rf "$W/c" "$W/rw" "$W/l1" "$W/sorted.txt"

# ---- 3. copy of a SIZE_MIB MiB database ----
# 1 KiB values of random bytes (incompressible), in cdbmake, loaded by
# sorted bulk load.
/usr/bin/python3 -c '
import os, sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"k%010d" % i
    out.write(b"+%d,1024:%s->%s\n" % (len(k), k, os.urandom(1024)))
out.write(b"\n")
' $((SIZE_MIB * 1024)) >"$W/big.cdb"
"$S" load -q -f "$W/big.cdb" "$W/big"
rm -f "$W/big.cdb"
bytes=$(du -sb "$W/big" | cut -f1)
: >"$W/t.copy"
: >"$W/t.cp"
other=""
if [ -d /dev/shm ] && [ "$(stat -f -c %i /dev/shm)" != "$(stat -f -c %i "$W")" ]; then
  other=$(mktemp -d /dev/shm/cli-bench.XXXXXX)
  avail=$(df -k --output=avail /dev/shm | tail -1)
  [ "$avail" -gt $((bytes / 1024 * 2 + 65536)) ] || { rmdir "$other"; other=""; }
fi
: >"$W/t.xcopy"
: >"$W/t.xcp"
r=0
while [ $r -lt "$REPEAT" ]; do
  rm -rf "$W/cp1"
  secs "$S" copy -q "$W/big" "$W/cp1" >>"$W/t.copy"
  echo >>"$W/t.copy"
  if [ -n "$other" ]; then
    rm -rf "$other/cp2" "$other/cp3"
    secs "$S" copy -q "$W/big" "$other/cp2" >>"$W/t.xcopy"
    echo >>"$W/t.xcopy"
    rm -rf "$other/cp2"
    secs cp -r "$W/big" "$other/cp3" >>"$W/t.xcp"
    echo >>"$W/t.xcp"
    rm -rf "$other/cp3"
  fi
  r=$((r + 1))
done
echo "3. copy of a database of $(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB"
echo "   same file system (hard links)   $(col 1 "$W/t.copy" | median) s   (goal: < 1 s)"
if [ -n "$other" ]; then
  tx=$(col 1 "$W/t.xcopy" | median)
  tp=$(col 1 "$W/t.xcp" | median)
  echo "   to /dev/shm (another fs)        ${tx} s = $(awk -v b="$bytes" -v t="$tx" 'BEGIN { printf "%.0f", b / 1048576 / t }') MiB/s"
  echo "   cp -r to /dev/shm               ${tp} s = $(awk -v b="$bytes" -v t="$tp" 'BEGIN { printf "%.0f", b / 1048576 / t }') MiB/s"
  echo "   cp -r / copy                    $(ratio "$tp" "$tx")x   (goal: ~1x, disk speed)"
  rmdir "$other" 2>/dev/null || rm -rf "$other"
else
  echo "   (no other file system with room found: cross-file-system copy not measured)"
fi
