#!/bin/sh
# demo.sh - Strata on real data that ships with Debian.
#
# usage: sh scripts/demo.sh path/to/strata      (run by 'make demo')
#
# Takes the apt package index (/var/lib/apt/lists/*_Packages*, any
# compression apt uses; /var/lib/dpkg/status when there is none) and the
# word list /usr/share/dict/words, turns them into the plain load format
#     pkg/<Package>    -> the package's whole stanza
#     word/<word>      -> the word's line number in the list
# and then, in a fresh database in a temporary directory:
#   1. imports it with 'strata load' and measures records/s;
#   2. looks keys up: thousands in one process ('get -f'), and a few hundred
#      separate 'strata get' processes, checking each value;
#   3. runs a prefix scan (pkg/lib), a reverse scan with a limit and a full
#      key scan, each compared with the keys computed independently here;
#   4. prints 'strata stat';
#   5. reopens the database after updates, and after a load killed with
#      SIGKILL part way, and checks that what recovery finds is exact: the
#      updates, and whole batches of the killed load (none torn);
#   6. serves the database with strata-server on loopback, reads it with
#      redis-cli (point reads, ordered range scans), writes over the
#      network, stops the server and opens the same files embedded again.
# Prints a summary with counts and timings. Exits 1 if any check fails.
# Needs only /bin/sh, coreutils, mawk/awk, sed, grep, apt's apt-helper, and
# redis-cli (redis-tools) for part 6.
# STRATA_DEMO_APT_LISTS=DIR reads the apt indexes from DIR instead (an
# empty DIR shows the /var/lib/dpkg/status fallback).

set -u
if [ $# -ne 1 ]; then
  echo "usage: sh scripts/demo.sh path/to/strata" >&2
  exit 2
fi
S=$1
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
if [ ! -x "$S" ]; then
  echo "demo: $S is not an executable (build first: make build)" >&2
  exit 2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo.XXXXXX") || exit 2
trap 'rm -rf "$W"' EXIT
trap 'exit 2' INT TERM
DB=$W/db
export LC_ALL=C # byte semantics for awk and sort: the database's order

failures=0
now() { date +%s%N; }
# ms START END: elapsed milliseconds with one decimal.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
# rate COUNT START END: COUNT per second.
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'; }
# per_us COUNT START END: microseconds per item.
per_us() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", (b - a) / 1e3 / n }'; }
pass() { echo "  ok   $*"; }
fail() {
  echo "  FAIL $*"
  failures=$((failures + 1))
}
# expect NAME GOT WANT
expect() {
  if [ "$2" = "$3" ]; then pass "$1: $2"; else fail "$1: got $2, want $3"; fi
}
section() { printf '\n== %s\n' "$*"; }

# ---- 1. the data -----------------------------------------------------------

section "Input data"
: >"$W/packages"
nsrc=0
LISTS=${STRATA_DEMO_APT_LISTS:-/var/lib/apt/lists} # overridable to try the fallback
for f in "$LISTS"/*_Packages "$LISTS"/*_Packages.*; do
  [ -f "$f" ] || continue
  # apt-helper decompresses whatever apt stored (lz4, gz, xz, zst, none).
  if /usr/lib/apt/apt-helper cat-file "$f" >>"$W/packages" 2>/dev/null; then
    echo "  apt index: $f"
    nsrc=$((nsrc + 1))
    printf '\n' >>"$W/packages" # keep the last stanza apart from the next file
  fi
done
if [ $nsrc -eq 0 ]; then
  echo "  no apt package index present; using /var/lib/dpkg/status"
  cat /var/lib/dpkg/status >"$W/packages"
fi
WORDS=/usr/share/dict/words
if [ ! -r "$WORDS" ]; then
  echo "demo: $WORDS is missing: install wamerican (sh scripts/install-deps.sh)" >&2
  exit 2
fi
echo "  word list: $WORDS"

# The conversion writes the load input (-T: key line, value line, '\' as
# "\\" and newline as "\0a"), the raw keys (to compute the expected scans)
# and the counts. A package listed in several indexes is one key (the last
# stanza read wins, as in the load).
ESC='
  function rep(s, sep, r,   n, p, i, o) {
    n = split(s, p, sep)
    o = p[1]
    for (i = 2; i <= n; i++) o = o r p[i]
    return o
  }
  function esc(s) {
    if (index(s, "\\")) s = rep(s, "\\", "\\\\")
    if (index(s, "\n")) s = rep(s, "\n", "\\0a")
    return s
  }'
t0=$(now)
# Packages: one stanza per record (paragraph mode); its Package: field
# names it.
awk -v keys="$W/keys.raw" -v counts="$W/counts" "$ESC"'
  BEGIN { RS = "" }
  {
    if (!match($0, /(^|\n)Package: [^\n]*/)) next
    name = substr($0, RSTART, RLENGTH)
    sub(/^\n/, "", name)
    name = substr(name, 10)
    print "pkg/" esc(name)
    print esc($0)
    stanzas++
    if (!(name in seen)) {
      seen[name] = 1
      npkg++
      if (name ~ /^lib/) nlib++
      print "pkg/" name > keys
    }
  }
  END { printf "%d %d %d\n", stanzas, npkg, nlib > counts }' "$W/packages" >"$W/load.txt"
# Words: the value is the line number.
awk -v keys="$W/keys.raw" "$ESC"'
  $0 != "" { print "word/" esc($0); print NR; print "word/" $0 >> keys }' "$WORDS" >>"$W/load.txt"
t1=$(now)
read -r STANZAS NPKG NLIB <"$W/counts"
NWORD=$(grep -c '^word/' "$W/keys.raw")
NREC=$((STANZAS + NWORD))
BYTES=$(wc -c <"$W/load.txt")
echo "  $STANZAS package stanzas ($NPKG distinct packages, $NLIB named lib*), $NWORD words"
echo "  load input: $NREC records, $((BYTES / 1024)) KiB, converted in $(ms $t0 $t1) ms"

# Expected keys in the database's order, in scan's escaped form.
sort -u "$W/keys.raw" | awk '
  BEGIN { for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i }
  {
    if ($0 !~ /[^ -~]|\\/) { print; next }
    o = ""
    for (i = 1; i <= length($0); i++) {
      c = substr($0, i, 1)
      if (c == "\\") o = o "\\\\"
      else if (c < " " || c > "~") o = o sprintf("\\x%02x", ord[c])
      else o = o c
    }
    print o
  }' >"$W/keys.want"
NKEYS=$(wc -l <"$W/keys.want")

# ---- 2. import -------------------------------------------------------------

section "Import (strata load -T, batches of 1000)"
t0=$(now)
"$S" load -T -v -f "$W/load.txt" "$DB" 2>"$W/load.err"
rc=$?
t1=$(now)
LOAD_MS=$(ms $t0 $t1)
LOAD_RATE=$(rate $NREC $t0 $t1)
sed 's/^/  /' "$W/load.err"
if [ $rc -eq 0 ]; then
  pass "imported $NREC records in $LOAD_MS ms: $LOAD_RATE records/s"
else
  fail "strata load exited with $rc"
fi

# A bulk load leaves many level-0 tables; each later open would start a
# compaction that a short-lived process abandons at close. Compact once.
t0=$(now)
"$S" compact "$DB"
rc=$?
t1=$(now)
COMPACT_MS=$(ms $t0 $t1)
expect "strata compact exit status (took $COMPACT_MS ms)" $rc 0

# ---- 3. point lookups ------------------------------------------------------

section "Point lookups"
# 5000 keys in a fixed pseudo-random order (shuf seeded with the input).
shuf -n 5000 --random-source="$W/load.txt" "$W/keys.want" >"$W/sample"
NSAMPLE=$(wc -l <"$W/sample")
t0=$(now)
"$S" get -f "$W/sample" "$DB" >"$W/sample.out" 2>"$W/sample.err"
rc=$?
t1=$(now)
GETF_US=$(per_us $NSAMPLE $t0 $t1)
found=$(wc -l <"$W/sample.out")
if [ $rc -eq 0 ] && [ "$found" -eq "$NSAMPLE" ]; then
  pass "$NSAMPLE random keys in one process (get -f): all found, $GETF_US us per lookup" \
    "(including open and close)"
else
  fail "get -f: exit $rc, $found of $NSAMPLE found"
  head -3 "$W/sample.err"
fi
# Each printed key must be the key asked for, in order.
cut -f1 "$W/sample.out" >"$W/sample.keys"
if cmp -s "$W/sample" "$W/sample.keys"; then pass "get -f answered every key in order"; else
  fail "get -f printed other keys than asked"
fi

# Separate processes: each opens the database, looks one key up, closes.
NPROC=200
head -n $NPROC "$W/sample" | grep '^word/' | grep -v '\\' | sed 's|^word/||' >"$W/proc.words"
NPROC=$(wc -l <"$W/proc.words")
bad=0
t0=$(now)
while IFS= read -r w; do
  # The value is the word's line number: check it against the list.
  if v=$("$S" get "$DB" "word/$w") && [ "$(sed -n "${v}p" "$WORDS")" = "$w" ]; then :; else
    bad=$((bad + 1))
  fi
done <"$W/proc.words"
t1=$(now)
PROC_MS=$(awk -v n=$NPROC -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", (b - a) / 1e6 / (n ? n : 1) }')
if [ $bad -eq 0 ]; then
  pass "$NPROC 'strata get' processes, values checked against the word list: $PROC_MS ms each"
else
  fail "$bad of $NPROC separate gets wrong or missing"
fi
pkg=$(sed -n 's|^pkg/||p' "$W/sample" | head -n 1)
if [ -n "$pkg" ]; then
  first=$("$S" get "$DB" "pkg/$pkg" | head -n 1)
  expect "stanza of pkg/$pkg starts with its Package: line" "$first" "Package: $pkg"
fi
"$S" get "$DB" "pkg/no-such-package-here" 2>/dev/null
expect "missing key: exit status" $? 1

# ---- 4. scans --------------------------------------------------------------

section "Scans"
t0=$(now)
n=$("$S" scan --prefix pkg/lib --keys-only "$DB" | wc -l)
t1=$(now)
expect "prefix scan pkg/lib: keys" "$n" "$NLIB"
echo "       in $(ms $t0 $t1) ms"
t0=$(now)
n=$("$S" scan --prefix pkg/lib "$DB" | wc -c)
t1=$(now)
echo "       with values: $((n / 1024)) KiB of stanzas in $(ms $t0 $t1) ms"

"$S" scan --reverse --limit 10 --keys-only --prefix word/ "$DB" >"$W/rev"
grep '^word/' "$W/keys.want" | tail -n 10 | tac >"$W/rev.want"
if cmp -s "$W/rev" "$W/rev.want"; then
  pass "reverse scan, limit 10, of word/: the last 10 words in byte order:"
  sed 's/^/         /' "$W/rev"
else
  fail "reverse scan differs from the expected last 10 words"
fi

t0=$(now)
"$S" scan "$DB" >"$W/all"
t1=$(now)
SCAN_RATE=$(rate $NKEYS $t0 $t1)
cut -f1 "$W/all" >"$W/keys.got"
if cmp -s "$W/keys.want" "$W/keys.got"; then
  pass "full scan: all $NKEYS keys, exactly the expected ones in order, $SCAN_RATE entries/s"
else
  fail "full scan: $(wc -l <"$W/keys.got") keys, differs from the $NKEYS expected"
fi
# Point lookups and the iterator are separate paths through the database:
# the values get -f returned must be the ones the scan shows.
awk -F'\t' 'NR == FNR { want[$1] = 1; next } $1 in want { val[$1] = $0 }
  END { while ((getline k <ARGV[1]) > 0) print val[k] }' "$W/sample" "$W/all" >"$W/sample.scan"
if cmp -s "$W/sample.scan" "$W/sample.out"; then
  pass "the $NSAMPLE values from get -f equal the scan's"
else
  fail "get -f and scan disagree on some values"
fi

# ---- 5. stat ---------------------------------------------------------------

section "strata stat"
"$S" stat "$DB" >"$W/stat" 2>&1
rc=$?
sed 's/^/  /' "$W/stat"
expect "stat exit status" $rc 0
n=$(sed -n 's/^entries: \([0-9]*\) (counted)$/\1/p' "$W/stat")
expect "stat entry count" "${n:-?}" "$NKEYS"

# ---- 6. recovery -----------------------------------------------------------

section "Reopen after updates"
# Delete 100 words and add 50 keys, one process each, then count with a
# fresh process.
grep '^word/' "$W/keys.want" | grep -v '\\' | head -n 100 >"$W/del"
t0=$(now)
while IFS= read -r k; do "$S" delete "$DB" "$k" || fail "delete $k"; done <"$W/del"
i=0
while [ $i -lt 50 ]; do
  "$S" put "$DB" "new/$i" "value $i" || fail "put new/$i"
  i=$((i + 1))
done
t1=$(now)
WRITE_MS=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", (b - a) / 1e6 / 150 }')
echo "       150 'strata delete'/'strata put' processes: $WRITE_MS ms each"
n=$("$S" scan --keys-only "$DB" | wc -l)
expect "keys after reopening" "$n" $((NKEYS - 100 + 50))
n=$("$S" get -f "$W/del" "$DB" 2>/dev/null | wc -l)
expect "deleted keys found" "$n" 0
expect "new/49" "$("$S" get "$DB" new/49)" "value 49"

section "Recovery after a load killed with SIGKILL"
# Load ASCII words (so scan prints them unescaped) in batches of 100, each
# synced, and kill the loader part way. Recovery must find a whole number
# of batches: exactly the first records of the input, none torn.
# --no-bulk-load: into an empty database load would otherwise bulk-load the
# input's first sorted run (a few words here) before its batches.
BATCH=100
grep -n '' "$WORDS" | grep -v '[^ -~]' | grep -v '\\' |
  awk -F: '{ print "w/" substr($0, length($1) + 2); print $1 }' >"$W/crash.txt"
NCRASH=$(($(wc -l <"$W/crash.txt") / 2))
"$S" load -T --sync --no-bulk-load --batch $BATCH -f "$W/crash.txt" "$W/crashdb" &
pid=$!
# Kill once about a third of the input has reached the database's log.
target=$(($(wc -c <"$W/crash.txt") / 3))
t0=$(now)
i=0
while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
  size=$(du -sb "$W/crashdb" 2>/dev/null | cut -f1)
  [ "${size:-0}" -ge $target ] && break
  sleep 0.01
  i=$((i + 1))
done
kill -9 $pid 2>/dev/null && killed=yes || killed=no
t1=$(now)
wait $pid 2>/dev/null
n=$("$S" scan --keys-only "$W/crashdb" 2>/dev/null | wc -l)
if [ $killed = yes ] && [ "$n" -lt "$NCRASH" ]; then
  echo "       killed after $(ms $t0 $t1) ms; reopened: $n of $NCRASH records"
else
  echo "       the load finished before the kill; reopened: $n of $NCRASH records"
fi
if [ "$n" -eq "$NCRASH" ] || [ $((n % BATCH)) -eq 0 ]; then
  pass "a whole number of batches of $BATCH survived ($n records)"
else
  fail "$n records survived: a torn batch"
fi
head -n $((2 * n)) "$W/crash.txt" | awk 'NR % 2 { k = $0; next } { print k "\t" $0 }' |
  sort >"$W/crash.want"
"$S" scan "$W/crashdb" 2>/dev/null | sort >"$W/crash.got"
if cmp -s "$W/crash.want" "$W/crash.got"; then
  pass "the survivors are exactly the first $n records of the input, values intact"
else
  fail "the recovered records are not the first $n of the input"
fi
"$S" put "$W/crashdb" after-crash ok >/dev/null 2>&1
expect "writable after recovery" "$("$S" get "$W/crashdb" after-crash 2>&1)" ok

# ---- 7. the same database over the Redis protocol -------------------------

section "Serving the database with strata-server (Redis protocol), then embedded again"
# strata-server (built beside the strata tool) serves $DB on loopback;
# redis-cli (Debian's redis-tools) reads it: a point read, a few thousand
# reads through one connection, an ordered range scan each way; a write goes
# in over the network; SHUTDOWN closes the database and the strata tool opens
# the same files again.
SRV=$(dirname "$S")/strata-server
SERVE_MS="-"
if [ ! -x "$SRV" ] || ! command -v redis-cli >/dev/null 2>&1; then
  fail "strata-server ($SRV) or redis-cli missing (make build; sh scripts/install-deps.sh)"
else
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 6391)
  "$SRV" --dir "$DB" --port "$PORT" --bind 127.0.0.1 --logfile "$W/server.log" &
  SPID=$!
  i=0
  while [ $i -lt 100 ] && ! redis-cli -p "$PORT" ping >/dev/null 2>&1; do
    kill -0 $SPID 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    fail "strata-server did not start on port $PORT"
    sed 's/^/       /' "$W/server.log"
  else
    echo "  strata-server pid $SPID serving $DB on 127.0.0.1:$PORT"
    # A point read: a word still present after the deletions above.
    w=$(grep '^word/' "$W/keys.want" | grep -v '\\' | tail -n 1 | sed 's|^word/||')
    v=$(redis-cli -p "$PORT" GET "word/$w")
    expect "redis-cli GET word/$w is its line number" "$(sed -n "${v:-0}p" "$WORDS")" "$w"
    # Thousands of reads through one connection (redis-cli reads commands from stdin).
    # Sampled words that are still present (not deleted above), quoting-free.
    grep '^word/' "$W/sample" | grep -v '[\\" ]' | grep -v "'" | grep -vxFf "$W/del" |
      tail -n 2000 >"$W/serve.keys"
    NSERVE=$(wc -l <"$W/serve.keys")
    sed 's/^/GET /' "$W/serve.keys" >"$W/serve.cmds"
    t0=$(now)
    redis-cli -p "$PORT" <"$W/serve.cmds" >"$W/serve.out"
    t1=$(now)
    SERVE_MS=$(per_us "$NSERVE" $t0 $t1)
    awk -F'\t' 'NR == FNR { v[$1] = $2; next } { print v[$0] }' "$W/all" "$W/serve.keys" \
      >"$W/serve.want"
    if cmp -s "$W/serve.want" "$W/serve.out"; then
      pass "$NSERVE GETs through one redis-cli connection (a round trip each): values equal the scan's, $SERVE_MS us each"
    else
      fail "GETs through redis-cli differ from the values scanned before"
    fi
    # Ordered range scans, which Redis lacks (Pika's PKSCANRANGE syntax).
    redis-cli -p "$PORT" PKSCANRANGE string pkg/lib "$(printf 'pkg/lib\377')" LIMIT 10 \
      >"$W/range.out"
    sed -n '2,$p' "$W/range.out" >"$W/range.keys"
    grep '^pkg/lib' "$W/keys.want" | head -n 10 >"$W/range.want"
    if cmp -s "$W/range.keys" "$W/range.want"; then
      pass "PKSCANRANGE string pkg/lib .. pkg/lib\\xff LIMIT 10: the first 10 lib* packages, in order"
      sed 's/^/         /' "$W/range.keys" | head -n 3
      echo "         ... next key: $(sed -n 1p "$W/range.out")"
    else
      fail "PKSCANRANGE differs from the expected first 10 pkg/lib keys"
    fi
    redis-cli -p "$PORT" PKRSCANRANGE string "$(printf 'word/\377')" word/ LIMIT 10 |
      sed -n '2,$p' >"$W/rrange.keys"
    grep '^word/' "$W/keys.raw" | sort -u | tail -n 10 | tac >"$W/rrange.want"
    if cmp -s "$W/rrange.keys" "$W/rrange.want"; then
      pass "PKRSCANRANGE string word/\\xff .. word/ LIMIT 10: the last 10 words, backwards"
    else
      fail "PKRSCANRANGE differs from the last 10 words"
    fi
    expect "SET over the network" "$(redis-cli -p "$PORT" SET demo/served 'written over RESP')" OK
    redis-cli -p "$PORT" SHUTDOWN >/dev/null 2>&1
    wait $SPID
    expect "strata-server exit status after SHUTDOWN" $? 0
    expect "the same files opened embedded: strata get demo/served" \
      "$("$S" get "$DB" demo/served 2>&1)" "written over RESP"
    "$S" scan --prefix pkg/lib --limit 10 --keys-only "$DB" >"$W/range.embedded"
    if cmp -s "$W/range.embedded" "$W/range.keys"; then
      pass "strata scan --prefix pkg/lib --limit 10 equals the server's PKSCANRANGE"
    else
      fail "the embedded scan differs from the server's range"
    fi
  fi
  kill $SPID 2>/dev/null
fi

# ---- summary ---------------------------------------------------------------

section "Summary"
echo "  data:         $NREC records ($NPKG packages, $NWORD words), $((BYTES / 1024)) KiB"
echo "  import:       $LOAD_MS ms, $LOAD_RATE records/s; compaction after it: $COMPACT_MS ms"
echo "  lookups:      $GETF_US us each in one process; $PROC_MS ms per 'strata get' process"
echo "  writes:       $WRITE_MS ms per 'strata put'/'strata delete' process"
echo "  full scan:    $SCAN_RATE entries/s (keys and values)"
echo "  served:       $SERVE_MS us per GET round trip through strata-server and redis-cli"
echo "  database:     $(du -sk "$DB" | cut -f1) KiB on disk"
if [ $failures -eq 0 ]; then
  echo "  result:       all checks passed"
  exit 0
fi
echo "  result:       $failures check(s) FAILED"
exit 1
