#!/bin/sh
# compat_test.sh LDB_TOOL STRATA_TOOL - on-disk compatibility between
# Debian's LevelDB 1.23 and Strata, in both directions.
#
# For each profile (small: 64 KiB write buffer, tables on several levels;
# default: 4 MiB write buffer; bloom: as small, plus LevelDB's bloom filter,
# so every get goes through filter blocks the other library wrote):
#   1. LevelDB writes (range compactions, then an unflushed log tail).
#      Strata dumps it (replaying LevelDB's log) and must print exactly what
#      LevelDB dumps from an untouched copy; LevelDB then reads the files
#      Strata's recovery rewrote and must still print the same.
#   2. Strata appends to that database (its own compactions, unflushed log);
#      LevelDB's dump of a copy must equal Strata's dump.
#   3. Strata writes a new database; LevelDB's dump equals Strata's, and
#      Strata reads what LevelDB's recovery rewrote.
#   4. LevelDB appends to it; Strata's dump equals LevelDB's.
#   5. Tables written by each library alone are snappy-compressed (and with
#      the bloom profile carry filter blocks), and each left an unflushed
#      .log behind; with the 64 KiB profiles both spread tables over at
#      least two levels.
#   6. Strata bulk-loads a new database (strata_loader_*): LevelDB's dump
#      equals Strata's; LevelDB appends and Strata reads the result; the
#      loaded tables are snappy-compressed (bloom: carry filters) and all in
#      the last level.
#   7. Strata checkpoints its database with writes in the memtable
#      (strata_checkpoint): LevelDB's dump of the copy equals Strata's dump
#      of the source, and the copy has no log.
#   8. Sub-databases and transactions: see subdb_scenario below.
# Dumps cover every key and value (forward and backward), seeks with prev,
# and gets (compat_common.h). Prints "N passed, M failed"; exits non-zero on
# any failure, keeping its scratch directory for inspection.
set -u
LDB=$1
ST=$2

if [ "${STRATA_TEST_SCALE:-}" = asan ]; then N=10000; else N=20000; fi
N=${COMPAT_N:-$N}
SEED=${STRATA_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

# Scratch space as in suite_util.h: $TMPDIR if set; otherwise /dev/shm when
# it has more than 2 GB free, since both libraries fsync every table they
# write and these runs write hundreds of tables (on-disk format, not
# durability against power loss, is under test here).
base=${TMPDIR:-}
if [ -z "$base" ]; then
  base=/tmp
  avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$avail" ] && [ "$avail" -gt 2000000 ] && [ -w /dev/shm ]; then base=/dev/shm; fi
fi
W=$(mktemp -d "$base/strata-compat.XXXXXX") || exit 2
echo "compat_test: seed=$SEED N=$N dir=$W (reproduce: STRATA_SEED=$SEED COMPAT_N=$N $0 $LDB $ST)"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# run OUT CMD...: runs CMD with stdout to OUT (or /dev/null for "-").
run() {
  out=$1
  shift
  [ "$out" = - ] && out=/dev/null
  if "$@" >"$out" 2>"$W/last.err"; then
    cat "$W/last.err"
    return 0
  fi
  bad "command failed: $* (seed $SEED)"
  sed 's/^/     /' "$W/last.err"
  return 1
}

same() {
  if [ -s "$2" ] && cmp -s "$2" "$3"; then
    ok "$1"
  else
    bad "$1: $2 and $3 differ (seed $SEED); first differences:"
    diff "$2" "$3" | head -8 | cut -c1-200
  fi
}

snappy_tables() {
  line=$("$LDB" tables "$2")
  snappy=$(echo "$line" | awk '{print $8}')
  if [ "${snappy:-0}" -gt 0 ]; then ok "$1 ($line)"; else bad "$1: no snappy data block ($line)"; fi
}

# filter_tables NAME DIR: every parsed table of DIR has a filter block.
filter_tables() {
  line=$("$LDB" tables "$2")
  set -- "$1" $line
  # fields: tables T unparsed X blocks B snappy S none U filters F
  if [ "$3" -gt 0 ] && [ "${13}" -eq $(($3 - $5)) ]; then
    ok "$1 ($line)"
  else
    bad "$1: tables without a filter block ($line)"
  fi
}

unflushed_log() {
  if find "$2" -name '*.log' -size +0 | grep -q .; then
    ok "$1"
  else
    bad "$1: no non-empty .log in $2"
  fi
}

# levels NAME ERRFILE: the "tables per level" line a tool printed shows at
# least two non-empty levels.
levels() {
  n=$(grep 'tables per level' "$2" | tail -1 | awk -F: '{print $2}' |
    awk '{c = 0; for (i = 1; i <= NF; i++) if ($i > 0) c++; print c}')
  if [ "${n:-0}" -ge 2 ]; then ok "$1 ($n levels)"; else bad "$1: tables on ${n:-0} level(s)"; fi
}

# last_level NAME ERRFILE: the "tables per level after bulk load" line shows
# tables in level 6 only.
last_level() {
  line=$(grep 'tables per level after bulk load' "$2" | tail -1 | sed 's/.*: //')
  set -- "$1" $line
  if [ "$#" -eq 8 ] && [ "$2$3$4$5$6$7" = 000000 ] && [ "$8" -gt 0 ]; then
    ok "$1 ($line)"
  else
    bad "$1: tables per level: $line"
  fi
}

# no_log NAME DIR: DIR holds no .log file.
no_log() {
  if find "$2" -name '*.log' | grep -q .; then bad "$1: a .log in $2"; else ok "$1"; fi
}

scenario() {
  P=$1
  n=$2
  ops=$2 # n is reused by levels() below
  s=$3
  d=$W/$P
  mkdir -p "$d"
  echo "-- profile $P, $n ops"

  # 1. LevelDB writes; Strata reads.
  run - "$LDB" write "$d/L" "$s" "$n" "$P" || return
  cp "$W/last.err" "$d/L.write.err"
  cp -r "$d/L" "$d/L.orig"
  cp -r "$d/L" "$d/L.view"
  run "$d/L.ldb.dump" "$LDB" dump "$d/L.view" "$P" &&
    run "$d/L.strata.dump" "$ST" dump "$d/L" "$P" &&
    same "$P: LevelDB writes, Strata reads (log replay included)" "$d/L.ldb.dump" "$d/L.strata.dump"
  run "$d/L.ldb2.dump" "$LDB" dump "$d/L" "$P" &&
    same "$P: LevelDB reads the files Strata's recovery wrote" "$d/L.ldb.dump" "$d/L.ldb2.dump"

  # 2. Strata appends; LevelDB reads.
  run - "$ST" append "$d/L" $((s + 1)) $((n / 2)) "$P" &&
    cp -r "$d/L" "$d/L2.view" &&
    run "$d/L2.ldb.dump" "$LDB" dump "$d/L2.view" "$P" &&
    run "$d/L2.strata.dump" "$ST" dump "$d/L" "$P" &&
    same "$P: Strata appends, LevelDB reads" "$d/L2.strata.dump" "$d/L2.ldb.dump"

  # 3. Strata writes; LevelDB reads.
  run - "$ST" write "$d/S" $((s + 2)) "$n" "$P" || return
  cp "$W/last.err" "$d/S.write.err"
  cp -r "$d/S" "$d/S.orig"
  cp -r "$d/S" "$d/S.view"
  run "$d/S.strata.dump" "$ST" dump "$d/S.view" "$P" &&
    run "$d/S.ldb.dump" "$LDB" dump "$d/S" "$P" &&
    same "$P: Strata writes, LevelDB reads (log replay included)" "$d/S.strata.dump" "$d/S.ldb.dump"
  run "$d/S.strata2.dump" "$ST" dump "$d/S" "$P" &&
    same "$P: Strata reads the files LevelDB's recovery wrote" "$d/S.strata.dump" "$d/S.strata2.dump"

  # 4. LevelDB appends; Strata reads.
  run - "$LDB" append "$d/S" $((s + 3)) $((n / 2)) "$P" &&
    cp -r "$d/S" "$d/S2.view" &&
    run "$d/S2.strata.dump" "$ST" dump "$d/S2.view" "$P" &&
    run "$d/S2.ldb.dump" "$LDB" dump "$d/S" "$P" &&
    same "$P: LevelDB appends, Strata reads" "$d/S2.ldb.dump" "$d/S2.strata.dump"

  # 5. What each library wrote on its own.
  snappy_tables "$P: LevelDB's tables use snappy" "$d/L.orig"
  snappy_tables "$P: Strata's tables use snappy" "$d/S.orig"
  unflushed_log "$P: LevelDB left writes in its log" "$d/L.orig"
  unflushed_log "$P: Strata left writes in its log" "$d/S.orig"
  if [ "$P" = bloom ]; then
    filter_tables "$P: LevelDB's tables carry bloom filters" "$d/L.orig"
    filter_tables "$P: Strata's tables carry bloom filters" "$d/S.orig"
  fi
  if [ "$P" != default ]; then
    levels "$P: LevelDB's tables span levels" "$d/L.write.err"
    levels "$P: Strata's tables span levels" "$d/S.write.err"
  fi

  # 6. Strata bulk-loads a new database; LevelDB reads it (its files as the
  #    load left them) and appends to it; Strata reads that.
  run - "$ST" bulkload "$d/B" $((s + 4)) $((ops / 4)) "$P" || return
  cp "$W/last.err" "$d/B.write.err"
  cp -r "$d/B" "$d/B.orig"
  cp -r "$d/B" "$d/B.view"
  run "$d/B.ldb.dump" "$LDB" dump "$d/B.view" "$P" &&
    run "$d/B.strata.dump" "$ST" dump "$d/B" "$P" &&
    same "$P: Strata bulk-loads, LevelDB reads" "$d/B.strata.dump" "$d/B.ldb.dump"
  run - "$LDB" append "$d/B" $((s + 5)) $((ops / 8)) "$P" &&
    cp -r "$d/B" "$d/B2.view" &&
    run "$d/B2.strata.dump" "$ST" dump "$d/B2.view" "$P" &&
    run "$d/B2.ldb.dump" "$LDB" dump "$d/B" "$P" &&
    same "$P: LevelDB appends to a bulk-loaded database, Strata reads" "$d/B2.ldb.dump" "$d/B2.strata.dump"
  snappy_tables "$P: Strata's bulk-loaded tables use snappy" "$d/B.orig"
  if [ "$P" = bloom ]; then
    filter_tables "$P: Strata's bulk-loaded tables carry bloom filters" "$d/B.orig"
  fi
  last_level "$P: bulk-loaded tables all sit in the last level" "$d/B.write.err"

  # 7. A checkpoint of Strata's database (with writes in its memtable):
  #    LevelDB reads the copy as the checkpoint left it.
  run - "$ST" checkpoint "$d/S" "$d/C" $((s + 6)) "$P" || return
  cp -r "$d/C" "$d/C.orig"
  cp -r "$d/C" "$d/C.view"
  run "$d/C.ldb.dump" "$LDB" dump "$d/C.view" "$P" &&
    run "$d/C.strata.dump" "$ST" dump "$d/S" "$P" &&
    same "$P: Strata checkpoints, LevelDB reads the copy" "$d/C.strata.dump" "$d/C.ldb.dump"
  no_log "$P: the checkpoint has no log" "$d/C.orig"
}

# 6. Sub-databases and transactions (strata.h only): Strata writes them
#    into a database; LevelDB sees exactly the bytes Strata's leveldb/c.h
#    view sees (the reserved range as ordinary keys), then writes to the
#    database itself; Strata still reads every sub-database as before.
subdb_scenario() {
  n=$1
  s=$2
  d=$W/subdb
  mkdir -p "$d"
  echo "-- sub-databases and transactions, $n ops"
  run - "$ST" write "$d/T" "$s" "$n" small || return
  run - "$ST" subdbs "$d/T" $((s + 1)) "$n" || return
  run "$d/T.sub1" "$ST" subdump "$d/T" || return
  if grep -q '^D a' "$d/T.sub1" && grep -q '^F ' "$d/T.sub1"; then
    ok "sub-databases: Strata wrote and lists them"
  else
    bad "sub-databases: subdump shows no sub-database content"
  fi
  cp -r "$d/T" "$d/T.view"
  STRATA_TOOL_RAW=1 run "$d/T.raw.strata" "$ST" dump "$d/T.view" small &&
    run "$d/T.raw.ldb" "$LDB" dump "$d/T" small &&
    same "sub-databases: LevelDB reads the same bytes as Strata's raw view" "$d/T.raw.strata" \
      "$d/T.raw.ldb"
  run - "$LDB" append "$d/T" $((s + 2)) $((n / 2)) small &&
    run "$d/T.sub2" "$ST" subdump "$d/T" &&
    same "sub-databases: intact after LevelDB wrote to the database" "$d/T.sub1" "$d/T.sub2"
}

scenario small "$N" "$SEED"
scenario default $((N / 2)) $((SEED + 100))
scenario bloom $((N / 2)) $((SEED + 200))
subdb_scenario $((N / 2)) $((SEED + 300))

echo "$pass passed, $fail failed"
if [ "$fail" -eq 0 ]; then
  rm -rf "$W"
  exit 0
fi
echo "scratch directory kept: $W"
exit 1
