#!/bin/sh
# cli_test.sh - end-to-end tests of the strata command-line tool.
#
# usage: sh cli_test.sh STRATA_BINARY [GROUP...]
# Groups: kv scan dump jsonl load errors repair subdb cdbmake edit warm
# progress interrupt readers watch copy hotcopy mdb mdbbig (default: all of them). The mdb groups need
# mdb_dump and mdb_load (Debian package lmdb-utils), the py-lmdb checks of
# cdbmake Debian's python3-lmdb, the pty checks of progress util-linux's
# script; each is skipped, with a note, without them.
#
# Every check compares real output with the expected bytes. Ends with the
# line "N passed, M failed" and exits 1 if M > 0.

if [ $# -lt 1 ]; then
  echo "usage: sh cli_test.sh STRATA_BINARY [GROUP...]" >&2
  exit 2
fi
S=$1
shift
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
[ -x "$S" ] || { echo "cli_test: $S is not an executable" >&2; exit 2; }
GROUPS_TO_RUN=${*:-kv scan dump jsonl load errors repair subdb cdbmake edit warm progress interrupt readers watch copy hotcopy mdb mdbbig}

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-cli-test.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 2' INT TERM
pass=0
fail=0

# ---- helpers -------------------------------------------------------------

# run CMD...: runs a command; stdout in $T/out, stderr in $T/err, status in $rc.
run() {
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
}

ok() { pass=$((pass + 1)); }
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*" >&2
}

# expect_rc N NAME: the last run exited with status N.
expect_rc() {
  if [ "$rc" -eq "$1" ]; then ok; else
    bad "$2: exit status $rc, want $1"
    sed 's/^/    stderr: /' "$T/err" >&2
  fi
}

# expect_out FORMAT NAME: the last run's stdout is exactly printf FORMAT
# (printf escapes: \n \t \\ \NNN octal).
expect_out() {
  printf -- "$1" >"$T/want"
  if cmp -s "$T/want" "$T/out"; then ok; else
    bad "$2: stdout differs"
    echo "    want:" >&2
    od -c "$T/want" | head -20 | sed 's/^/      /' >&2
    echo "    got:" >&2
    od -c "$T/out" | head -20 | sed 's/^/      /' >&2
  fi
}

# expect_err TEXT NAME: the last run's stderr contains TEXT (fixed string).
expect_err() {
  if grep -qF -- "$1" "$T/err"; then ok; else
    bad "$2: stderr lacks '$1'"
    sed 's/^/    stderr: /' "$T/err" >&2
  fi
}

# strip_out: drops the mapsize= line (whose value is an estimate, tested in
# the mdb group) from the last run's stdout.
strip_out() {
  grep -v '^mapsize=' "$T/out" >"$T/out.stripped"
  mv "$T/out.stripped" "$T/out"
}

# expect_quiet NAME: nothing on stderr.
expect_quiet() {
  if [ ! -s "$T/err" ]; then ok; else
    bad "$1: unexpected stderr"
    sed 's/^/    stderr: /' "$T/err" >&2
  fi
}

# same_file A B NAME: files are byte-identical.
same_file() {
  if cmp -s "$1" "$2"; then ok; else
    bad "$3: $1 and $2 differ"
    diff "$1" "$2" | head -10 | sed 's/^/    /' >&2
  fi
}

# check COND NAME: a shell test that must hold.
check() {
  if eval "$1"; then ok; else bad "$2 ($1)"; fi
}

want_group() {
  case " $GROUPS_TO_RUN " in *" $1 "*) return 0 ;; esac
  return 1
}

# ---- kv: put, get, delete --------------------------------------------------

group_kv() {
  db=$T/kv
  run "$S" put "$db" k1 v1
  expect_rc 0 "put creates the database"
  check '[ -f "$db/CURRENT" ]' "put created a database directory"
  run "$S" get "$db" k1
  expect_rc 0 "get"
  expect_out 'v1\n' "get prints value and newline"
  expect_quiet "get"

  run "$S" get "$db" nokey
  expect_rc 1 "get of a missing key"
  expect_out '' "get of a missing key prints nothing on stdout"
  expect_err "not found: nokey" "get of a missing key"

  "$S" put "$db" k1 v2
  run "$S" get "$db" k1
  expect_out 'v2\n' "put overwrites"

  run "$S" delete "$db" k1
  expect_rc 0 "delete"
  run "$S" get "$db" k1
  expect_rc 1 "get after delete"
  run "$S" delete "$db" never-there
  expect_rc 0 "delete of a missing key is not an error"

  run "$S" put -x "$db" 00ff 00
  expect_rc 0 "put -x binary key"
  run "$S" get -x "$db" 00ff
  expect_out '00\n' "get -x"
  run "$S" get "$db" "$(printf '\377')"
  expect_rc 1 "key 00ff is not key ff"

  run "$S" put "$db" -- -dash -v
  expect_rc 0 "put after -- takes operands starting with -"
  run "$S" get "$db" -- -dash
  expect_out '-v\n' "get after --"

  run "$S" put "$db" empty ""
  run "$S" get "$db" empty
  expect_rc 0 "get of an empty value"
  expect_out '\n' "empty value prints just the newline"

  run "$S" put --sync "$db" synced yes
  expect_rc 0 "put --sync"
  run "$S" get "$db" synced
  expect_out 'yes\n' "get after put --sync"

  printf 'synced\n\\x00\\xff\nmissing\nempty\n' >"$T/keys"
  run "$S" get -f "$T/keys" "$db"
  expect_rc 1 "get -f with a missing key exits 1"
  expect_out 'synced\tyes\n\\x00\\xff\t\\x00\nempty\t\n' "get -f prints found keys as scan does"
  expect_err "not found: missing" "get -f names the missing key"
  printf 'synced\n' | "$S" get -f - "$db" >"$T/out" 2>"$T/err"
  rc=$?
  expect_rc 0 "get -f - reads standard input"
  expect_out 'synced\tyes\n' "get -f -"
}

# ---- scan ------------------------------------------------------------------

group_scan() {
  db=$T/scan
  for k in a ab abc b ba c; do "$S" put "$db" "$k" "v-$k" || bad "put $k"; done
  "$S" put "$db" "$(printf 'd\tx')" "$(printf 'line1\nline2')"
  "$S" put "$db" 'e\' 'back\slash'

  run "$S" scan "$db"
  expect_rc 0 "scan"
  expect_out 'a\tv-a\nab\tv-ab\nabc\tv-abc\nb\tv-b\nba\tv-ba\nc\tv-c\nd\\x09x\tline1\\x0aline2\ne\\\\\tback\\\\slash\n' \
    "scan lists everything in order with escapes"
  run "$S" scan --start ab --end b "$db"
  expect_out 'ab\tv-ab\nabc\tv-abc\n' "scan --start --end (end exclusive)"
  run "$S" scan --prefix ab --keys-only "$db"
  expect_out 'ab\nabc\n' "scan --prefix --keys-only"
  run "$S" scan --prefix a --start ab -k "$db"
  expect_out 'ab\nabc\n' "prefix and start combine"
  run "$S" scan --prefix a --end abc -k "$db"
  expect_out 'a\nab\n' "prefix and end combine"
  run "$S" scan --prefix b --start c -k "$db"
  expect_out '' "disjoint prefix and start give nothing"
  run "$S" scan --reverse -k "$db"
  expect_out 'e\\\\\nd\\x09x\nc\nba\nb\nabc\nab\na\n' "scan --reverse"
  run "$S" scan --reverse --limit 2 -k "$db"
  expect_out 'e\\\\\nd\\x09x\n' "scan --reverse --limit"
  run "$S" scan -R --prefix a -k "$db"
  expect_out 'abc\nab\na\n' "reverse prefix scan"
  run "$S" scan -R --end b -k "$db"
  expect_out 'abc\nab\na\n' "reverse scan below --end"
  run "$S" scan -R --start b --end c -k "$db"
  expect_out 'ba\nb\n' "reverse scan within start/end"
  run "$S" scan --limit 0 "$db"
  expect_out '' "--limit 0 prints nothing"
  run "$S" scan -n 3 -k "$db"
  expect_out 'a\nab\nabc\n' "-n 3"
  run "$S" scan --hex --prefix 61 -k "$db"
  expect_out '61\n6162\n616263\n' "scan --hex reads the prefix as hex"
  run "$S" scan --hex --start 63 "$db"
  expect_out '63\t762d63\n640978\t6c696e65310a6c696e6532\n655c\t6261636b5c736c617368\n' \
    "scan --hex prints keys and values in hex"

  # Prefixes ending in 0xff have no simple successor.
  db2=$T/scanff
  for k in 00 fe ff ff00 ff01 ffff ffff00; do "$S" put -x "$db2" "$k" "$k"; done
  run "$S" scan -x --prefix ff -k "$db2"
  expect_out 'ff\nff00\nff01\nffff\nffff00\n' "prefix ff"
  run "$S" scan -x --prefix ffff -k "$db2"
  expect_out 'ffff\nffff00\n' "prefix ffff"
  run "$S" scan -x -R --prefix ff -k "$db2"
  expect_out 'ffff00\nffff\nff01\nff00\nff\n' "reverse prefix ff"
  run "$S" scan -x -R --prefix fe -k "$db2"
  expect_out 'fe\n' "reverse prefix fe stops before ff"
}

# ---- dump (both text formats) and round trips ------------------------------

# A database with awkward keys: NUL bytes, 0xff, empty value, backslash,
# newline, non-ASCII. Built through put -x so every byte is exact.
make_binary_db() {
  "$S" put -x "$1" 00 "" &&
    "$S" put -x "$1" 0000ff 00ff &&
    "$S" put -x "$1" 615c62 5c5c &&
    "$S" put -x "$1" 6b0a 0d0a09 &&
    "$S" put -x "$1" 636166c3a9 c3a9 &&
    "$S" put -x "$1" ff ffff
}

group_dump() {
  db=$T/dump
  make_binary_db "$db" || bad "building the binary database"
  run "$S" dump "$db"
  expect_rc 0 "dump"
  strip_out
  expect_out 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 00\n \n 0000ff\n 00ff\n 615c62\n 5c5c\n 636166c3a9\n c3a9\n 6b0a\n 0d0a09\n ff\n ffff\nDATA=END\n' \
    "dump bytevalue text"
  cp "$T/out" "$T/dump.hex"
  run "$S" dump -p "$db"
  expect_rc 0 "dump -p"
  strip_out
  expect_out 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n \\00\n \n \\00\\00\\ff\n \\00\\ff\n a\\\\b\n \\\\\\\\\n caf\\c3\\a9\n \\c3\\a9\n k\\0a\n \\0d\\0a\\09\n \\ff\n \\ff\\ff\nDATA=END\n' \
    "dump -p text"
  cp "$T/out" "$T/dump.print"

  run "$S" dump -f "$T/dump.file" "$db"
  expect_rc 0 "dump -f"
  expect_out '' "dump -f writes nothing on stdout"
  grep -v '^mapsize=' "$T/dump.file" >"$T/dump.file.stripped"
  same_file "$T/dump.hex" "$T/dump.file.stripped" "dump -f writes the dump"

  run "$S" load -f "$T/dump.hex" "$T/rt-hex"
  expect_rc 0 "load of a bytevalue dump"
  run "$S" dump "$T/rt-hex"
  strip_out
  same_file "$T/dump.hex" "$T/out" "bytevalue round trip"
  "$S" load "$T/rt-print" <"$T/dump.print"
  run "$S" dump "$T/rt-print"
  strip_out
  same_file "$T/dump.hex" "$T/out" "print round trip (load from stdin)"
  "$S" dump "$db" | "$S" load "$T/rt-pipe"
  run "$S" dump -p "$T/rt-pipe"
  strip_out
  same_file "$T/dump.print" "$T/out" "dump | load pipe"

  # An empty database dumps to a header and DATA=END, and loads back.
  "$S" put "$T/empty" k v && "$S" delete "$T/empty" k
  run "$S" dump "$T/empty"
  strip_out
  expect_out 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\nDATA=END\n' "dump of an empty db"
  cp "$T/out" "$T/empty.dump"
  run "$S" load -f "$T/empty.dump" "$T/empty2"
  expect_rc 0 "load of an empty dump"
  check '[ -f "$T/empty2/CURRENT" ]' "load of an empty dump creates the database"
}

# ---- JSON lines ------------------------------------------------------------

group_jsonl() {
  db=$T/json
  make_binary_db "$db" || bad "building the binary database"
  "$S" put "$db" 'q"uote' 'tab	and \ slash'
  run "$S" dump --jsonl "$db"
  expect_rc 0 "dump --jsonl"
  # Valid UTF-8 is written as JSON strings (non-ASCII raw, @E@ below stands
  # for the two bytes of U+00E9), anything else as base64.
  e=$(printf '\303\251')
  sed "s/@E@/$e/g" >"$T/json.want" <<'EOF'
{"key":"\u0000","value":""}
{"key_b64":"AAD/","value_b64":"AP8="}
{"key":"a\\b","value":"\\\\"}
{"key":"caf@E@","value":"@E@"}
{"key":"k\n","value":"\r\n\t"}
{"key":"q\"uote","value":"tab\tand \\ slash"}
{"key_b64":"/w==","value_b64":"//8="}
EOF
  same_file "$T/json.want" "$T/out" "dump --jsonl text"
  cp "$T/out" "$T/dump.jsonl"

  run "$S" load --jsonl -f "$T/dump.jsonl" "$T/json-rt"
  expect_rc 0 "load --jsonl"
  run "$S" dump --jsonl "$T/json-rt"
  same_file "$T/dump.jsonl" "$T/out" "jsonl round trip"
  run "$S" load -f "$T/dump.jsonl" "$T/json-rt2"
  expect_rc 0 "load detects JSON lines"
  "$S" dump -f "$T/a" "$T/json-rt2"
  "$S" dump -f "$T/b" "$T/json"
  same_file "$T/b" "$T/a" "jsonl load gives the same database"

  printf '{"key_hex":"00FF","value_b64":"aGk="}\n\n  {"value": "x\\u00e9\\ud83d\\ude00", "key": "k"}\n' >"$T/hand.jsonl"
  run "$S" load --jsonl -f "$T/hand.jsonl" "$T/json-hand"
  expect_rc 0 "load of hand-written JSON lines"
  run "$S" scan -x "$T/json-hand"
  expect_out '00ff\t6869\n6b\t78c3a9f09f9880\n' "key_hex, value_b64, \\u escapes, surrogate pairs"
}

# ---- load: formats, batches, errors ---------------------------------------

group_load() {
  printf 'k1\nv1\nk\\5c\\0a2\n\\00\n\nempty-key-above\n' >"$T/plain.txt"
  run "$S" load -T -f "$T/plain.txt" "$T/plain"
  expect_rc 0 "load -T"
  run "$S" scan "$T/plain"
  expect_out '\tempty-key-above\nk1\tv1\nk\\\\\\x0a2\t\\x00\n' "load -T contents"

  # Loading into an existing database keeps its other keys.
  "$S" put "$T/merge" old 1
  printf 'new\n2\nold\n3\n' | "$S" load -T "$T/merge"
  run "$S" scan "$T/merge"
  expect_out 'new\t2\nold\t3\n' "load merges into an existing database"

  # A bad line in the third pair with --batch 2: the first batch (pairs 1-2)
  # is applied, nothing of the second batch (pairs 3-4) is.
  cat >"$T/bad.dump" <<'EOF'
VERSION=3
format=bytevalue
type=btree
HEADER=END
 6b31
 31
 6b32
 32
 6b33
 33
 6b34
 3x
 6b35
 35
DATA=END
EOF
  run "$S" load --no-bulk-load --batch 2 -f "$T/bad.dump" "$T/partial"
  expect_rc 1 "malformed load exits 1"
  expect_err "strata load: $T/bad.dump:12: bad hex digit in value line" "message names file and line"
  expect_err "2 pairs from 1 earlier batches" "message says what was applied"
  run "$S" scan -k "$T/partial"
  expect_out 'k1\nk2\n' "nothing from the bad batch was applied"

  run "$S" load --atomic -f "$T/bad.dump" "$T/atomic"
  expect_rc 1 "--atomic malformed load exits 1"
  check '[ ! -e "$T/atomic" ]' "--atomic with a bad line creates nothing"
  run "$S" load -f "$T/bad.dump" "$T/firstbatch"
  expect_rc 1 "bad line in the first batch"
  check '[ ! -e "$T/firstbatch" ]' "bad first batch creates no database"

  sed 's/3x/34/' "$T/bad.dump" >"$T/good.dump"
  run "$S" load --atomic -v -f "$T/good.dump" "$T/atomic"
  expect_rc 0 "--atomic load"
  expect_err "loaded 5 pairs in 1 batches" "--verbose count"
  run "$S" load --no-bulk-load --batch 2 -v -f "$T/good.dump" "$T/batched"
  expect_err "loaded 5 pairs in 3 batches (0 pairs by sorted bulk load)" "--batch 2 writes 3 batches"
  run "$S" load --batch 2 -v -f "$T/good.dump" "$T/bulk"
  expect_err "loaded 5 pairs in 1 batches (5 pairs by sorted bulk load)" "sorted input into a new database is one bulk load"
  "$S" scan "$T/batched" >"$T/a"
  run "$S" scan "$T/bulk"
  same_file "$T/a" "$T/out" "bulk load and batches give the same database"
  run "$S" load --batch 2 -f "$T/bad.dump" "$T/bulkbad"
  expect_rc 1 "malformed input during a bulk load"
  expect_err "0 pairs from 0 earlier batches" "a bulk load in progress applies nothing"
  run "$S" scan "$T/bulkbad"
  expect_out '' "nothing of a failed bulk load is visible"
  # Out of order after a sorted prefix: the prefix by bulk load, the rest
  # by batches; a repeated key keeps its last value.
  printf 'a\n1\nc\n3\nb\n2\na\nlast\nd\n4\n' >"$T/unsorted.txt"
  run "$S" load -T -v --batch 1 -f "$T/unsorted.txt" "$T/mixed"
  expect_err "loaded 5 pairs in 4 batches (2 pairs by sorted bulk load)" "bulk load then batches"
  run "$S" scan "$T/mixed"
  expect_out 'a\tlast\nb\t2\nc\t3\nd\t4\n' "mixed bulk load and batches"
  run "$S" load -T -v -f "$T/unsorted.txt" "$T/mixed"
  expect_err "(0 pairs by sorted bulk load)" "no bulk load into a database that holds data"
  run "$S" load -T -v --atomic -f "$T/unsorted.txt" "$T/mixed-atomic"
  expect_err "loaded 5 pairs in 1 batches (0 pairs by sorted bulk load)" "--atomic of unsorted input is one batch"
  run "$S" scan "$T/mixed-atomic"
  expect_out 'a\tlast\nb\t2\nc\t3\nd\t4\n' "--atomic of unsorted input"

  # Each kind of malformed input, with its line number.
  bad_load() { # NAME LINE TEXT [OPTIONS...]
    name=$1 line=$2 text=$3
    shift 3
    printf "$text" >"$T/in"
    run "$S" load "$@" -f "$T/in" "$T/badload"
    expect_rc 1 "$name"
    expect_err "strata load: $T/in:$line: " "$name reports line $line"
    check '[ ! -e "$T/badload" ]' "$name creates nothing"
  }
  bad_load "odd hex length" 5 'VERSION=3\nHEADER=END\n 61\n 62\n 123\n 00\nDATA=END\n'
  bad_load "missing value line" 3 'VERSION=3\nHEADER=END\n 61\nDATA=END\n'
  bad_load "missing DATA=END" 4 'VERSION=3\nHEADER=END\n 61\n 62\n'
  bad_load "bad header" 2 'VERSION=3\nformat=weird\nHEADER=END\nDATA=END\n'
  bad_load "no header" 1 'key\nvalue\n'
  bad_load "bad print escape" 6 'VERSION=3\nformat=print\nHEADER=END\n a\n b\n c\\zz\n d\nDATA=END\n'
  bad_load "bad JSON" 2 '{"key":"a","value":"b"}\n{"key":"a","value":b}\n' --jsonl
  bad_load "missing -T value" 3 'k\nv\nk2\n' -T
  bad_load "empty input" 1 ''
  bad_load "text after DATA=END" 4 'VERSION=3\nHEADER=END\nDATA=END\nmore\n'
  bad_load "duplicates" 2 'VERSION=3\nduplicates=1\nHEADER=END\nDATA=END\n'
  printf '\n' >"$T/in"
  run "$S" load -f "$T/in" --batch 0 "$T/badload"
  expect_rc 2 "--batch 0 is a usage error"
  run "$S" load -T --jsonl -f "$T/in" "$T/badload"
  expect_rc 2 "-T with --jsonl is a usage error"
  run "$S" load -f "$T/no-such-file" "$T/badload"
  expect_rc 1 "load of a missing input file"
  expect_err "no-such-file" "names the missing input file"
  check '[ ! -e "$T/badload" ]' "missing input creates nothing"
}

# ---- errors and help -------------------------------------------------------

group_errors() {
  for cmd in "get KEY" "delete KEY" "scan" "dump" "stat"; do
    set -- $cmd
    c=$1
    shift
    run "$S" "$c" "$T/missing-db" "$@"
    expect_rc 1 "$c on a missing database"
    expect_err "strata $c: $T/missing-db: no such database" "$c names the missing database"
    check '[ ! -e "$T/missing-db" ]' "$c does not create a database"
  done
  : >"$T/plainfile"
  for c in get put scan load; do
    case $c in get) a="k" ;; put) a="k v" ;; *) a="" ;; esac
    run "$S" "$c" "$T/plainfile" $a </dev/null
    expect_rc 1 "$c on a file"
    expect_err "not a database" "$c on a file says so"
  done
  mkdir "$T/emptydir"
  run "$S" get "$T/emptydir" k
  expect_rc 1 "get on a directory without a database"
  expect_err "no CURRENT file" "get on an empty directory says why"

  # A database held open by another process: cli_writer with 0 writes
  # holds it, and its LOCK, until SIGTERM.
  "$S" put "$T/locked" k v
  if [ -n "$CLI_WRITER" ] && [ -x "$CLI_WRITER" ]; then
    "$CLI_WRITER" "$T/locked" 0 >"$T/holder.out" 2>&1 &
    holder=$!
    wait_for 'grep -q holding "$T/holder.out"'
    run "$S" delete "$T/locked" probe
    expect_rc 1 "delete on a database locked by another process"
    expect_err "cannot open $T/locked" "locked database reported"
    run "$S" put "$T/locked" k2 v2
    expect_rc 1 "put on a locked database"
    expect_err "already held" "put says the lock is held"
    # Commands that only read open it read-only beside the holder.
    run "$S" get "$T/locked" k
    expect_rc 0 "get on a locked database reads it read-only"
    expect_out 'v\n' "get beside the holder"
    run "$S" scan "$T/locked"
    expect_out 'k\tv\n' "scan beside the holder"
    run "$S" dump --cdbmake "$T/locked"
    expect_out '+1,1:k->v\n\n' "dump beside the holder"
    run "$S" stat "$T/locked"
    expect_rc 0 "stat beside the holder"
    run "$S" get -r "$T/locked" k
    expect_out 'v\n' "get -r beside the holder"
    kill -TERM $holder
    wait $holder
    check '[ $? -eq 0 ]' "the holder finished"
    run "$S" put "$T/locked" k2 v2
    expect_rc 0 "put after the lock is released"
  else
    echo "cli_test: CLI_WRITER not set; locked-database checks skipped"
  fi

  run "$S"
  expect_rc 2 "no command"
  expect_err "usage: strata" "no command prints usage"
  run "$S" frobnicate "$T/x"
  expect_rc 2 "unknown command"
  expect_err "unknown command 'frobnicate'" "unknown command named"
  run "$S" get --bogus "$T/x" k
  expect_rc 2 "unknown long option"
  expect_err "unknown option '--bogus'" "unknown long option named"
  run "$S" scan -q "$T/x"
  expect_rc 2 "unknown short option"
  expect_err "unknown option '-q'" "unknown short option named"
  run "$S" load -a "$T/x"
  expect_rc 2 "load -a (restore's option)"
  expect_err "unknown option '-a'" "load -a is named as unknown"
  run "$S" scan "$T/x" --limit
  expect_rc 2 "option without its argument"
  expect_err "option '--limit' needs an argument" "missing option argument named"
  run "$S" scan --limit ten "$T/x"
  expect_rc 2 "non-numeric limit"
  expect_err "'ten'" "bad limit named"
  run "$S" get "$T/x"
  expect_rc 2 "get without a key"
  expect_err "missing operand" "missing operand reported"
  run "$S" put "$T/x" k v extra
  expect_rc 2 "put with too many operands"
  expect_err "too many operands" "extra operand reported"
  run "$S" get -x "$T/x" 0g
  expect_rc 2 "get -x with bad hex"
  expect_err "not valid hex" "bad hex reported"
  check '[ ! -e "$T/x" ]' "no usage error created a database"

  run "$S" --help
  expect_rc 0 "--help"
  expect_quiet "--help"
  grep -q "^usage: strata <command>" "$T/out" && ok || bad "--help prints the usage"
  for c in get put delete scan dump load stat compact check repair; do
    run "$S" "$c" --help
    expect_rc 0 "$c --help"
    grep -q "^usage: strata $c" "$T/out" && ok || bad "$c --help prints its usage"
  done
  "$S" --help | sed -n '/^Commands:/,/^$/p' >"$T/cmds"
  run "$S" help all
  expect_rc 0 "help all"
  check '[ $(grep -c "^usage: strata" "$T/out") -eq $(( $(grep -c "^  [a-z]" "$T/cmds") + 1 )) ]' "help all prints every manual"

  # stat on a small database.
  for i in 1 2 3 4 5; do "$S" put "$T/stat" "k$i" "v$i"; done
  run "$S" stat "$T/stat"
  expect_rc 0 "stat"
  expect_quiet "stat"
  grep -q "^entries: 5 (counted)" "$T/out" && ok || bad "stat counts 5 entries"
  grep -q "^level  files" "$T/out" && ok || bad "stat prints the level table"
  check '[ $(grep -c "^    [0-6]  " "$T/out") -eq 7 ]' "stat prints levels 0-6"
  grep -q "^leveldb.stats:" "$T/out" && ok || bad "stat prints the leveldb.stats property"

  # compact keeps the contents and empties level 0.
  "$S" scan "$T/stat" >"$T/before"
  run "$S" compact "$T/stat"
  expect_rc 0 "compact"
  expect_quiet "compact"
  run "$S" scan "$T/stat"
  same_file "$T/before" "$T/out" "compact keeps the contents"
  run "$S" stat "$T/stat"
  grep -q "^    0      0  " "$T/out" && ok || bad "compact leaves level 0 empty"
  run "$S" compact --start k2 --end k4 "$T/stat"
  expect_rc 0 "compact of a range"
  run "$S" compact "$T/missing-db"
  expect_rc 1 "compact of a missing database"
}

# ---- repair and check ------------------------------------------------------

# flip FILE OFFSET: overwrites 4 bytes of FILE at OFFSET with 0xff.
flip() {
  printf '\377\377\377\377' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

group_repair() {
  db=$T/rdb
  # 2000 pairs compacted into a table, then one more key left in the log.
  i=0
  while [ $i -lt 2000 ]; do
    printf 'key%05d\nvalue-%05d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n' $i $i
    i=$((i + 1))
  done >"$T/pairs.txt"
  "$S" load -T -f "$T/pairs.txt" "$db" || bad "load for repair"
  "$S" compact "$db" || bad "compact for repair"
  "$S" put "$db" in-the-log yes || bad "put for repair"

  run "$S" check "$db"
  expect_rc 0 "check of a clean database"
  expect_out "$db: no problems found\n" "check of a clean database says so"
  expect_quiet "check of a clean database"

  # Damage a data block in the middle of the table.
  table=$(ls "$db"/*.ldb | head -1)
  size=$(wc -c <"$table")
  flip "$table" $((size / 3))
  run "$S" check "$db"
  expect_rc 1 "check of a damaged table"
  grep -q "^$table: offset [1-9][0-9]*: .*checksum" "$T/out" && ok ||
    bad "check names the damaged table and block offset"
  grep -q "^$db: 1 problem found" "$T/out" && ok || bad "check prints a summary line"
  run "$S" repair "$db"
  expect_rc 0 "repair"
  expect_quiet "repair"
  grep -q "^tables lost: *0" "$T/out" && ok || bad "repair keeps the damaged table's good blocks"
  grep -q "^logs converted: *1" "$T/out" && ok || bad "repair converts the log"
  grep -q "^bytes dropped: *[1-9]" "$T/out" && ok || bad "repair reports the bytes dropped"
  check '[ -f "$db/lost/$(basename "$table")" ]' "the damaged original is in lost/"
  run "$S" check "$db"
  expect_rc 0 "check after repair"
  run "$S" get "$db" in-the-log
  expect_out 'yes\n' "the log's write survives repair"
  # Every pair left is one that was written: nothing wrong, a few missing.
  kept=$("$S" scan -k "$db" | grep -c '^key')
  check '[ "$kept" -lt 2000 ] && [ "$kept" -gt 1900 ]' "repair keeps the other blocks' keys ($kept)"
  "$S" scan "$db" | grep '^key' | while IFS="$(printf '\t')" read -r k v; do
    [ "$v" = "value-${k#key}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" ] || echo "$k"
  done >"$T/wrong"
  check '[ ! -s "$T/wrong" ]' "no key has a wrong value after repair"

  # A damaged CURRENT: open fails, repair restores the database.
  printf 'garbage' >"$db/CURRENT"
  run "$S" get "$db" in-the-log
  expect_rc 1 "get with a damaged CURRENT"
  run "$S" check "$db"
  expect_rc 1 "check of a damaged CURRENT"
  grep -q "^$db/CURRENT: offset 0: " "$T/out" && ok || bad "check names CURRENT"
  run "$S" repair "$db"
  expect_rc 0 "repair of a damaged CURRENT"
  run "$S" get "$db" in-the-log
  expect_out 'yes\n' "get after repairing CURRENT"

  run "$S" check "$T/missing-db"
  expect_rc 1 "check of a missing database"
  expect_err "strata check: " "check of a missing database reports it"
  run "$S" repair "$T/missing-db"
  expect_rc 1 "repair of a missing database"
  check '[ ! -e "$T/missing-db" ]' "repair does not create a database"
  run "$S" check
  expect_rc 2 "check without DBPATH"
  run "$S" repair "$db" extra
  expect_rc 2 "repair with too many operands"
  run "$S" check --bogus "$db"
  expect_rc 2 "check with an unknown option"
}

# ---- sub-databases: -d everywhere, -e, drop, stat -------------------------

group_subdb() {
  db=$T/sub
  run "$S" put -d users "$db" bob 42
  expect_rc 0 "put -d creates the database and the sub-database"
  "$S" put -d users "$db" al 7
  "$S" put -d 'odd/name' "$db" k v
  "$S" put "$db" bob main-bob
  run "$S" get -d users "$db" bob
  expect_out '42\n' "get -d reads the sub-database"
  run "$S" get -e "$db" bob
  expect_out 'main-bob\n' "get -e DBPATH reads the main database"
  run "$S" get -d :main: "$db" bob
  expect_out 'main-bob\n' "-d :main: is the main database"
  run "$S" get -d users "$db" bob al nobody
  expect_rc 1 "get of several keys with one missing"
  expect_out 'bob\t42\nal\t7\n' "get of several keys prints key<TAB>value in the order given"
  expect_err "not found: nobody" "get of several keys names the missing one"
  run "$S" get -x -d users "$db" 626f62 616c
  expect_out '626f62\t3432\n616c\t37\n' "get -x of several keys"
  run "$S" get -d nosuch "$db" bob
  expect_rc 1 "get -d of a missing sub-database"
  expect_err "no sub-database 'nosuch'" "a missing sub-database is named"
  run "$S" scan -d users "$db"
  expect_out 'al\t7\nbob\t42\n' "scan -d lists only the sub-database"
  run "$S" scan "$db"
  expect_out 'bob\tmain-bob\n' "scan of the main database does not show sub-databases"
  run "$S" delete -d users "$db" al
  expect_rc 0 "delete -d"
  run "$S" scan -k -d users -e "$db"
  expect_out 'bob\n' "delete -d removed the key from the sub-database only"
  run "$S" delete -d nosuch "$db" al
  expect_rc 1 "delete -d of a missing sub-database"

  run "$S" stat "$db"
  expect_rc 0 "stat with sub-databases"
  grep -q '^users  ' "$T/out" && ok || bad "stat lists sub-database users"
  grep -q '^odd/name  ' "$T/out" && ok || bad "stat lists sub-database odd/name"
  "$S" stat --exact -d users "$db" | head -2 >"$T/out"
  expect_out 'sub-database: users\nentries: 1 (counted)\n' "stat -d --exact (first lines)"
  run "$S" stat -d users "$db"
  grep -q '^entries: ~' "$T/out" && ok || bad "stat -d estimates without --exact"

  # An mdb_dump-format dump of a sub-database names it (database=), and
  # load puts it back there.
  "$S" dump -d users "$db" >"$T/users.dump"
  grep -q '^database=users$' "$T/users.dump" && ok || bad "dump -d writes database=NAME"
  run "$S" load -f "$T/users.dump" "$T/sub2"
  expect_rc 0 "load of a dump with database="
  run "$S" scan -d users "$T/sub2"
  expect_out 'bob\t42\n' "load follows the dump's database= line"
  run "$S" load -d other -f "$T/users.dump" "$T/sub2"
  run "$S" scan -d other "$T/sub2"
  expect_out 'bob\t42\n' "load -d overrides database="

  run "$S" drop "$db" users nosuch
  expect_rc 1 "drop with a missing name"
  expect_err "no sub-database 'nosuch'" "drop names the missing sub-database"
  run "$S" get -d users "$db" bob
  expect_out '42\n' "a failed drop drops nothing"
  run "$S" drop "$db" :main:
  expect_rc 2 "drop :main: is a usage error"
  run "$S" drop "$db"
  expect_rc 2 "drop without a NAME"
  run "$S" drop -e "$db" users odd/name
  expect_rc 0 "drop of two sub-databases"
  expect_quiet "drop"
  run "$S" get -d users "$db" bob
  expect_rc 1 "a dropped sub-database is gone"
  run "$S" get "$db" bob
  expect_out 'main-bob\n' "drop leaves the main database"
  run "$S" put -d users "$db" new 1
  run "$S" scan -d users "$db"
  expect_out 'new\t1\n' "a sub-database made again after drop starts empty"
}

# ---- cdbmake: dump, restore, py-lmdb's format and CLI ----------------------

group_cdbmake() {
  db=$T/cdb
  # Binary keys and values: NUL, newline, "->", an empty value, 0xff.
  "$S" put -x "$db" 00 "" && "$S" put -x "$db" 610a 2d3e0a00 && "$S" put -x "$db" ff 2b312c323a &&
    "$S" put -x -d s1 "$db" 6b 76 && "$S" put -x -d s1 "$db" 0a 0a0a && "$S" put -x -d 'a b' "$db" 00 ff ||
    bad "building the cdbmake database"
  run "$S" dump --cdbmake "$db"
  expect_rc 0 "dump --cdbmake"
  # The format's definition: +klen,dlen:key->data\n per pair, then \n.
  expect_out '+1,0:\000->\n+2,4:a\n->->\n\000\n+1,5:\377->+1,2:\n\n' "dump --cdbmake bytes"
  cp "$T/out" "$T/main.cdb"
  run "$S" dump --format cdbmake -d s1 "$db"
  expect_out '+1,2:\n->\n\n\n+1,1:k->v\n\n' "dump --format cdbmake -d"

  mkdir "$T/cdbdir"
  (cd "$T/cdbdir" && "$S" dump -q "$db" :main:=m.cdb s1=s1.cdb) >"$T/out" 2>"$T/err"
  rc=$?
  expect_rc 0 "dump NAME=FILE..."
  same_file "$T/main.cdb" "$T/cdbdir/m.cdb" "dump :main:=FILE writes the main database"
  run "$S" dump "$db" s1
  expect_rc 2 "dump NAME without =FILE"
  run "$S" dump "$db" s1=a s1=b
  expect_rc 2 "dump of one database twice"
  run "$S" dump "$db" nosuch="$T/cdbdir/nosuch.cdb"
  expect_rc 1 "dump of a missing sub-database"
  check '[ ! -e "$T/cdbdir/nosuch.cdb" ]' "a missing sub-database creates no file"

  mkdir "$T/alldir"
  run "$S" dump -a -f "$T/alldir" "$db"
  expect_rc 0 "dump -a"
  (cd "$T/alldir" && ls) >"$T/out"
  expect_out 'a%%20b.cdbmake\nmain.cdbmake\ns1.cdbmake\n' "dump -a file names"
  same_file "$T/main.cdb" "$T/alldir/main.cdbmake" "dump -a main.cdbmake"
  run "$S" restore -a -f "$T/alldir" "$T/cdb2"
  expect_rc 0 "restore -a"
  expect_err "restored 6 pairs from 3 inputs" "restore reports what it loaded"
  for d in :main: s1 'a b'; do
    "$S" dump --cdbmake -d "$d" "$db" >"$T/a"
    "$S" dump --cdbmake -d "$d" "$T/cdb2" >"$T/b"
    same_file "$T/a" "$T/b" "restore -a round trip of $d"
  done
  # A sub-database named main goes to %6Dain.cdbmake and comes back as itself.
  "$S" put -d main "$db" mk mv
  rm -rf "$T/alldir2" && mkdir "$T/alldir2"
  "$S" dump -q -a -f "$T/alldir2" "$db" && "$S" restore -q -a -f "$T/alldir2" "$T/cdbmain" ||
    bad "restore -a of a sub-database named main"
  run "$S" scan -d main "$T/cdbmain"
  expect_out 'mk\tmv\n' "restore -a: %6Dain.cdbmake is the sub-database main"
  run "$S" scan "$T/cdbmain"
  expect_out '\\x00\t\na\\x0a\t->\\x0a\\x00\n\\xff\t+1,2:\n' "restore -a: main.cdbmake is the main database"
  "$S" drop "$db" main
  run "$S" restore "$T/cdb3" :main:="$T/cdbdir/m.cdb" s1="$T/cdbdir/s1.cdb"
  expect_rc 0 "restore NAME=FILE..."
  run "$S" dump --cdbmake -d s1 "$T/cdb3"
  same_file "$T/cdbdir/s1.cdb" "$T/out" "restore NAME=FILE round trip"
  (cd "$T/cdbdir" && cp m.cdb main.cdbmake && "$S" restore -q "$T/cdb4") >"$T/out" 2>"$T/err"
  rc=$?
  expect_rc 0 "restore without operands reads main.cdbmake"
  expect_quiet "restore -q"
  run "$S" dump --cdbmake "$T/cdb4"
  same_file "$T/main.cdb" "$T/out" "restore of main.cdbmake"
  run "$S" load -d s9 -f "$T/cdbdir/s1.cdb" "$T/cdb4"
  expect_rc 0 "load detects cdbmake"
  run "$S" scan -x -d s9 "$T/cdb4"
  expect_out '0a\t0a0a\n6b\t76\n' "load -d of a cdbmake dump"

  # Malformed cdbmake: each names the record and byte offset; nothing is made.
  bad_cdb() { # NAME TEXT MESSAGE
    printf "$2" >"$T/in.cdb"
    run "$S" load --cdbmake -f "$T/in.cdb" "$T/cdbbad"
    expect_rc 1 "cdbmake: $1"
    expect_err "$3" "cdbmake: $1 message"
    check '[ ! -e "$T/cdbbad" ]' "cdbmake: $1 creates nothing"
  }
  bad_cdb "truncated" '+1,1:a->b\n' "record 2 (byte 10): unexpected end of input (no blank end line"
  bad_cdb "short data" '+1,5:a->b\n\n' "record 1 (byte 11): unexpected end of input inside the data"
  bad_cdb "bad length" '+x,1:a->b\n\n' "record 1 (byte 2): bad key length"
  bad_cdb "no arrow" '+1,1:a-b\n\n' "record 1 (byte 8): expected '->' after the key"
  bad_cdb "no newline" '+1,1:a->bc\n' "record 1 (byte 10): expected a newline after the data"
  bad_cdb "no plus" '+1,1:a->b\nx\n' "record 2 (byte 11): expected '+' at the start of a record"
  bad_cdb "data after end" '+1,1:a->b\n\nmore' "unexpected data after the blank end line"
  bad_cdb "huge length" '+99999999999,1:a->b\n\n' "bad key length"

  # Byte-exact agreement with py-lmdb (Debian's python3-lmdb): its CLI dumps
  # the same pairs loaded into LMDB, and restores strata's dump.
  if command -v mdb_load >/dev/null 2>&1 && /usr/bin/python3 -c 'import lmdb' 2>/dev/null; then
    mkdir "$T/lmenv"
    strata_dump_stripped "$db" | mdb_load "$T/lmenv" || bad "mdb_load for py-lmdb"
    (cd "$T" && /usr/bin/python3 -m lmdb -e "$T/lmenv" dump :main:="$T/py.cdb") >/dev/null 2>&1
    same_file "$T/main.cdb" "$T/py.cdb" "strata dump --cdbmake is byte-identical to py-lmdb's dump"
    run "$S" restore "$T/frompy" :main:="$T/py.cdb"
    run "$S" dump --cdbmake "$T/frompy"
    same_file "$T/main.cdb" "$T/out" "strata restore reads py-lmdb's dump"
    mkdir "$T/lmenv2"
    mdb_load -f /dev/null "$T/lmenv2" 2>/dev/null
    printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\nDATA=END\n' | mdb_load "$T/lmenv2"
    /usr/bin/python3 -m lmdb -e "$T/lmenv2" restore :main:="$T/main.cdb" >/dev/null 2>&1
    check '[ $? -eq 0 ]' "py-lmdb's restore reads strata's dump"
    mdb_dump "$T/lmenv2" | grep -v -e '^mapsize=' -e '^maxreaders=' -e '^db_pagesize=' >"$T/a"
    strata_dump_stripped "$db" >"$T/b"
    same_file "$T/b" "$T/a" "py-lmdb restored every byte"
  else
    echo "cli_test: python3-lmdb or lmdb-utils missing; py-lmdb agreement skipped"
  fi
}

# ---- edit ------------------------------------------------------------------

group_edit() {
  db=$T/edit
  printf 'file\000contents' >"$T/f1"
  run "$S" edit "$db" --set a=1 --set 'b=x=y' --set-file f="$T/f1" --add c=3 --delete zz
  expect_rc 0 "edit creates and applies"
  run "$S" scan "$db"
  expect_out 'a\t1\nb\tx=y\nc\t3\nf\tfile\\x00contents\n' "edit results (split at the first =)"
  run "$S" edit "$db" --set a=2 --add c=4
  expect_rc 1 "edit --add of an existing key"
  expect_err "key 'c' exists; nothing was written" "edit --add names the key"
  run "$S" get "$db" a
  expect_out '1\n' "a failed edit writes nothing (atomic)"
  run "$S" edit "$db" --set n=1 --add n=2
  expect_rc 1 "--add sees an earlier --set of the same edit"
  run "$S" edit "$db" --delete a --add a=new --add-file g="$T/f1"
  expect_rc 0 "--add after --delete"
  run "$S" get -x "$db" 61 67
  expect_out '61\t6e6577\n67\t66696c6500636f6e74656e7473\n' "delete then add, add-file"
  run "$S" edit -x -d sub "$db" --set 3d00=ff --delete 61
  expect_rc 0 "edit -x -d"
  run "$S" scan -x -d sub "$db"
  expect_out '3d00\tff\n' "edit -x -d wrote into the sub-database"
  run "$S" edit -d fresh "$db" --add k=1 --add k=2
  expect_rc 1 "edit -d of a new sub-database that fails"
  "$S" stat "$db" >"$T/out"
  grep -q '^fresh ' "$T/out" && bad "a failed edit leaves no new sub-database" || ok
  run "$S" edit "$db"
  expect_rc 2 "edit without edits"
  run "$S" edit "$db" --set novalue
  expect_rc 2 "edit --set without ="
  run "$S" edit "$db" --set-file k="$T/no-such-file"
  expect_rc 1 "edit --set-file of a missing file"
  expect_err "no-such-file" "the missing file is named"
  run "$S" edit "$db" extra --set a=1
  expect_rc 2 "edit with an operand"
}

# ---- warm ------------------------------------------------------------------

group_warm() {
  db=$T/warm
  i=0
  while [ $i -lt 300 ]; do printf 'k%04d\nvalue%04d\n' $i $i; i=$((i + 1)); done >"$T/w.txt"
  "$S" load -T -f "$T/w.txt" "$db" && "$S" compact "$db"
  tables=$(ls "$db" | grep -c '\.ldb$')
  bytes=$(cat "$db"/*.ldb | wc -c)
  run "$S" warm "$db"
  expect_rc 0 "warm"
  expect_quiet "warm (not a terminal)"
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
  grep -q "^warmed $mib MiB in $tables tables in [0-9]* ms (" "$T/out" && ok ||
    bad "warm reports $mib MiB in $tables tables: $(cat "$T/out")"
  run "$S" warm "$T/missing-db"
  expect_rc 1 "warm of a missing database"
  run "$S" warm "$T"
  expect_rc 1 "warm of a directory that is no database"
  expect_err "not a database" "warm says why"
}

# ---- progress lines: on a terminal, not on a pipe --------------------------

group_progress() {
  db=$T/prog
  i=0
  while [ $i -lt 2000 ]; do printf 'k%05d\nv%05d\n' $i $i; i=$((i + 1)); done >"$T/p.txt"
  "$S" load -T -q -f "$T/p.txt" "$db"
  if ! command -v script >/dev/null 2>&1; then
    echo "cli_test: script (util-linux) missing; pty checks skipped"
  else
    for c in "dump -f $T/p.dump" "load -T -f $T/p.txt $T/prog2" "warm" "compact" "check"; do
      set -- $c
      verb=$1
      shift
      if [ "$verb" = load ]; then
        cmd="'$S' load $*"
      else
        cmd="'$S' $verb $* '$db'"
      fi
      # script runs the command on a pseudo-terminal; its output is the
      # terminal's, stderr included.
      script -qec "$cmd" /dev/null </dev/null >"$T/tty.out" 2>&1
      rc=$?
      expect_rc 0 "$verb on a terminal"
      grep -q "$verb: .*\[0:00:" "$T/tty.out" && ok || bad "$verb shows a progress line on a terminal"
      script -qec "$cmd -q" /dev/null </dev/null >"$T/tty.out" 2>&1
      grep -q "$verb: " "$T/tty.out" && bad "$verb -q shows no progress line" || ok
      rm -rf "$T/prog2"
    done
  fi
  run "$S" dump -f "$T/p.dump" "$db"
  expect_quiet "dump on a pipe shows no progress"
  run "$S" dump --progress -f "$T/p.dump" "$db"
  expect_err "dump: " "dump --progress forces the line"
  grep -q '2000 records' "$T/err" && ok || bad "the progress line counts records"
  run "$S" load --progress -f "$T/p.dump" "$T/prog3"
  grep -q "load: .* of .*(100%)" "$T/err" && ok || bad "load --progress shows the share of the file read"
}

# ---- interrupts: SIGTERM (as Ctrl-C) leaves no half-written destination ----

# wait_for COND: polls a shell test for up to 10 s.
wait_for() {
  n=0
  while ! eval "$1" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
}

group_interrupt() {
  db=$T/intr
  "$S" put "$db" k v && "$S" put -d s "$db" k v
  # dump: the second file is a FIFO, so dump blocks opening it, after the
  # first file is written; the signal comes while it waits.
  mkfifo "$T/intr.fifo"
  "$S" dump --cdbmake "$db" :main:="$T/intr.main" s="$T/intr.fifo" >/dev/null 2>"$T/err" &
  pid=$!
  wait_for '[ -s "$T/intr.main" ]'
  kill -TERM $pid
  cat "$T/intr.fifo" >/dev/null
  wait $pid
  rc=$?
  expect_rc 130 "dump interrupted exits 130"
  expect_err "interrupted; the files it was writing were removed" "dump says it removed its files"
  check '[ ! -e "$T/intr.main" ]' "interrupted dump removed the finished file too"
  check '[ -p "$T/intr.fifo" ]' "interrupted dump leaves a FIFO it wrote into"

  # load into a new database from a FIFO: batches of 2 are written, then
  # the signal; the database it was creating is removed.
  "$S" load -T --batch 2 -f "$T/intr.fifo" "$T/intr-new" 2>"$T/err" &
  pid=$!
  exec 3>"$T/intr.fifo"
  printf 'a\n1\nb\n2\nc\n3\n' >&3
  wait_for '[ -f "$T/intr-new/CURRENT" ]'
  kill -TERM $pid
  exec 3>&-
  wait $pid
  rc=$?
  expect_rc 130 "load interrupted exits 130"
  expect_err "was removed" "load names the removed database"
  check '[ ! -e "$T/intr-new" ]' "interrupted load removed the database it created"

  # load into an existing database: it stays, with whole batches only, and
  # a sub-database the load created is dropped.
  "$S" load -T --batch 2 -d newsub -f "$T/intr.fifo" "$db" 2>"$T/err" &
  pid=$!
  exec 3>"$T/intr.fifo"
  printf 'a\n1\nb\n2\nc\n3\n' >&3
  # The lock is held from the first batch on; probing would contend for it,
  # so wait for the sub-database's creation to reach the log.
  wait_for 'grep -q newsub "$db"/*.log 2>/dev/null'
  sleep 0.2
  kill -TERM $pid
  exec 3>&-
  wait $pid
  rc=$?
  expect_rc 130 "load into an existing database interrupted exits 130"
  expect_err "is incomplete" "load names the database as incomplete"
  run "$S" get "$db" k
  expect_out 'v\n' "the existing database keeps its data"
  run "$S" get -d newsub "$db" a
  expect_rc 1 "the sub-database the load created was dropped"
}

# ---- copy, copyfd, rewrite -------------------------------------------------

# same_db A B NAME: every database (main and sub-databases) of A and B holds
# the same pairs (compared through cdbmake dumps from dump -a).
same_db() {
  rm -rf "$T/sd-a" "$T/sd-b"
  mkdir "$T/sd-a" "$T/sd-b"
  "$S" dump -q -a -f "$T/sd-a" "$1" && "$S" dump -q -a -f "$T/sd-b" "$2" || {
    bad "$3: dump -a failed"
    return
  }
  if diff -r "$T/sd-a" "$T/sd-b" >/dev/null; then ok; else bad "$3: contents differ"; fi
}

group_copy() {
  db=$T/cp
  i=0
  while [ $i -lt 3000 ]; do printf 'k%05d\nvalue-%05d\n' $i $i; i=$((i + 1)); done >"$T/cp.txt"
  "$S" load -q -T -f "$T/cp.txt" "$db" && "$S" compact -q "$db" &&
    "$S" put "$db" in-memtable yes && "$S" delete "$db" k00007 &&
    "$S" put -d s1 "$db" a 1 && "$S" put -d s2 "$db" b 2 || bad "building the copy source"

  run "$S" copy "$db" "$T/cp1"
  expect_rc 0 "copy"
  expect_quiet "copy (not a terminal)"
  same_db "$db" "$T/cp1" "copy holds every database"
  run "$S" check "$T/cp1"
  expect_rc 0 "the copy checks clean"
  # Tables are hard links on one file system: the same inode.
  t=$(ls "$db" | grep '\.ldb$' | head -1)
  check '[ "$(stat -c %i "$db/$t")" = "$(stat -c %i "$T/cp1/$t")" ]' "copy hard-links the tables"
  run "$S" copy "$db" "$T/cp1"
  expect_rc 1 "copy to an existing DEST"
  expect_err "exists" "copy says DEST exists"
  run "$S" copy "$T/missing-db" "$T/cp9"
  expect_rc 1 "copy of a missing database"
  check '[ ! -e "$T/cp9" ]' "a failed copy leaves no DEST"
  run "$S" copy "$db"
  expect_rc 2 "copy without DEST"

  run "$S" copy --compact "$db" "$T/cp2"
  expect_rc 0 "copy --compact"
  same_db "$db" "$T/cp2" "copy --compact holds every database"
  "$S" stat "$T/cp2" >"$T/out"
  # The loaded tables go to the deepest level; level 0 holds at most the
  # small table of the sub-database catalog records.
  grep -q '^    6      [1-9]' "$T/out" && ok || bad "a compacted copy's tables are in level 6"
  l0=$(awk '$1 == "0" { print $3; exit }' "$T/out")
  check '[ "$l0" -lt 1000 ]' "a compacted copy has no data table in level 0 ($l0 bytes)"

  run "$S" rewrite "$db" "$T/rw1"
  expect_rc 0 "rewrite"
  same_db "$db" "$T/rw1" "rewrite holds every database"
  run "$S" rewrite -E "$T/rw2" "$db" s2 :main:
  expect_rc 0 "rewrite -E with names"
  run "$S" get -d s2 "$T/rw2" b
  expect_out '2\n' "rewrite of a named sub-database"
  run "$S" get -d s1 "$T/rw2" a
  expect_rc 1 "rewrite leaves out databases not named"
  run "$S" get "$T/rw2" in-memtable
  expect_out 'yes\n' "rewrite of :main: includes the memtable"
  run "$S" rewrite "$db" "$T/rw3" nosuch
  expect_rc 1 "rewrite of a missing sub-database"
  check '[ ! -e "$T/rw3" ]' "a failed rewrite leaves no DEST"
  run "$S" rewrite "$db" "$T/rw1"
  expect_rc 1 "rewrite to an existing DEST"

  # Tar streams: copy DB - and copyfd, unpacked by tar.
  "$S" copy "$db" - >"$T/cp.tar" 2>"$T/err"
  rc=$?
  expect_rc 0 "copy DB -"
  mkdir "$T/untar"
  tar -xf "$T/cp.tar" -C "$T/untar"
  check '[ $? -eq 0 ]' "tar unpacks the stream"
  same_db "$db" "$T/untar/cp" "the unpacked copy holds every database"
  "$S" copyfd --out-fd 3 "$db" 3>"$T/cp3.tar" >"$T/out" 2>"$T/err"
  rc=$?
  expect_rc 0 "copyfd --out-fd 3"
  expect_out '' "copyfd --out-fd 3 writes nothing on stdout"
  mkdir "$T/untar3"
  tar -xf "$T/cp3.tar" -C "$T/untar3" && ok || bad "tar unpacks copyfd's stream"
  same_db "$db" "$T/untar3/cp" "copyfd's copy holds every database"
  "$S" copyfd --compact "$db" | tar -tf - >"$T/out"
  grep -q '^cp/CURRENT$' "$T/out" && ok || bad "copyfd to a pipe, --compact"
  check '[ -z "$(ls -A "$T" | grep strata-copy)" ]' "no temporary directory is left beside the database"
  run "$S" copyfd --out-fd 9 "$db"
  expect_rc 2 "copyfd to a closed descriptor"
}

# ---- copy while another process writes ------------------------------------

# Needs cli_writer (CLI_WRITER) and, for the LevelDB check, ldb_tool
# (LDB_TOOL), both passed in the environment by cli.cmake.
# last_acked FILE: the number of cli_writer's last complete "acked N" line
# (the file may end in a line the writer is still writing).
last_acked() {
  sed -n 's/^acked \([0-9][0-9]*\)$/\1/p' "$1" | tail -1
}

group_hotcopy() {
  if [ -z "$CLI_WRITER" ] || [ ! -x "$CLI_WRITER" ]; then
    echo "cli_test: CLI_WRITER not set; hotcopy group skipped"
    return
  fi
  db=$T/hot
  "$CLI_WRITER" "$db" >"$T/acks" 2>"$T/writer.err" &
  writer=$!
  wait_for '[ "$(last_acked "$T/acks")" -ge 2000 ] 2>/dev/null'
  for dest in hc1 tar; do
    acked=$(last_acked "$T/acks")
    if [ $dest = tar ]; then
      "$S" copy -q "$db" - >"$T/hot.tar" 2>"$T/err"
      rc=$?
      mkdir "$T/hotx"
      tar -xf "$T/hot.tar" -C "$T/hotx" && ok || bad "tar unpacks the hot copy"
      copy=$T/hotx/hot
    else
      run "$S" copy "$db" "$T/$dest"
      copy=$T/$dest
    fi
    expect_rc 0 "copy ($dest) while a writer process runs"
    kill -0 $writer 2>/dev/null && ok || bad "the writer was still running during the copy ($dest)"
    # Every write acknowledged before the copy began is in it, and what is
    # in it is a prefix of the writes (nothing out of order, no gap).
    "$S" scan -k "$copy" >"$T/hotkeys"
    n=$(wc -l <"$T/hotkeys")
    check '[ "$n" -gt "$acked" ]' "copy ($dest) holds the $((acked + 1)) acknowledged writes ($n keys)"
    last=$(printf 'w%08d' $((n - 1)))
    check '[ "$(tail -1 "$T/hotkeys")" = "$last" ]' "copy ($dest) holds a prefix of the writes"
    run "$S" get "$copy" "$(printf 'w%08d' "$acked")"
    expect_out "$(printf 'value-%08d-padding-padding-padding' "$acked")\n" "copy ($dest) has the last acknowledged value"
    run "$S" get -d sub "$copy" w00000000
    expect_rc 0 "copy ($dest) has the sub-database"
    run "$S" check "$copy"
    expect_rc 0 "copy ($dest) checks clean"
    if [ -n "$LDB_TOOL" ] && [ -x "$LDB_TOOL" ]; then
      # LevelDB 1.23 opens the copy and sees the same keys (the reserved
      # range of sub-databases is ordinary keys to it: left out).
      "$LDB_TOOL" dump "$copy" >"$T/ldb.dump" 2>"$T/err"
      check '[ $? -eq 0 ]' "LevelDB 1.23 opens the copy ($dest)"
      grep '^F ' "$T/ldb.dump" | grep -v '^F ffff737472617461' | cut -d' ' -f2 >"$T/ldb.keys"
      "$S" scan -k -x "$copy" >"$T/strata.keys"
      same_file "$T/strata.keys" "$T/ldb.keys" "LevelDB 1.23 reads the keys Strata reads ($dest)"
    fi
  done
  kill -TERM $writer
  wait $writer
  check '[ $? -eq 0 ]' "the writer ended cleanly"
}

# ---- watch: live statistics beside a writer process ------------------------

group_watch() {
  if [ -z "$CLI_WRITER" ] || [ ! -x "$CLI_WRITER" ]; then
    echo "cli_test: CLI_WRITER not set; watch group skipped"
    return
  fi
  db=$T/watch
  "$CLI_WRITER" "$db" >"$T/wacks" 2>"$T/writer.err" &
  writer=$!
  wait_for '[ "$(last_acked "$T/wacks")" -ge 100 ] 2>/dev/null'
  run "$S" watch --interval 0.2 --window 3 -n 6 "$db"
  expect_rc 0 "watch -n 6 (CSV on a pipe)"
  check '[ "$(wc -l <"$T/out")" -eq 7 ]' "watch prints a header and 6 lines"
  head -1 "$T/out" >"$T/hdr"
  grep -q '^time,entries,sequence,writes_per_s,log_bytes_per_s,tables,tables_made_per_s,table_bytes_per_s,tables_removed_per_s,memtable_bytes,l0_files,l0_bytes,l1_files,l1_bytes,l2_files,l2_bytes,l3_files,l3_bytes,l4_files,l4_bytes,l5_files,l5_bytes,l6_files,l6_bytes$' "$T/hdr" &&
    ok || bad "watch's CSV header: $(cat "$T/hdr")"
  # The writer keeps writing: the sequence grows, and writes/s is positive
  # once there are two samples.
  awk -F, 'NR > 1 { if (NF != 24) bad = 1; if (NR > 2 && $3 < prev) bad = 1; prev = $3 }
           NR == 7 { if ($4 <= 0 || $3 <= 0) bad = 1 } END { exit bad }' "$T/out" &&
    ok || bad "watch follows the writer's sequence: $(cat "$T/out")"
  if command -v script >/dev/null 2>&1; then
    script -qec "'$S' watch --interval 0.2 -n 3 '$db'" /dev/null </dev/null >"$T/tty.out" 2>&1
    grep -q 'writes/s' "$T/tty.out" && ok || bad "watch draws its table on a terminal"
    grep -q '^ *6  ' "$T/tty.out" && ok || bad "watch's table lists level 6"
  fi
  kill -TERM $writer
  wait $writer
  run "$S" watch -n 1 "$T/missing-db"
  expect_rc 1 "watch of a missing database"
  run "$S" watch --interval 0 "$db"
  expect_rc 2 "watch --interval 0"
  run "$S" watch --window 0 "$db"
  expect_rc 2 "watch --window 0"
}

# ---- readers ---------------------------------------------------------------

group_readers() {
  db=$T/rdrs
  "$S" put "$db" k v
  run "$S" readers "$db"
  expect_rc 0 "readers of an unused database"
  expect_out "no process has $db open\n" "readers says none"
  if [ ! -d /proc/self/fd ]; then
    echo "cli_test: no /proc; readers checks skipped"
    return
  fi
  # A holder: 'get -f FIFO' has the database open (and locked) while it
  # waits for its keys.
  mkfifo "$T/rdrs.fifo"
  "$S" get -f "$T/rdrs.fifo" "$db" >/dev/null 2>&1 &
  holder=$!
  wait_for '"$S" readers "$db" | grep -q "^$holder "'
  run "$S" readers -e "$db"
  expect_rc 0 "readers with a writer"
  grep -q "^pid  *role  *command  *files$" "$T/out" && ok || bad "readers prints its header"
  grep -q "^$holder  *writer  *strata  *[1-9]" "$T/out" && ok || bad "readers lists the writer: $(cat "$T/out")"
  echo k >"$T/rdrs.fifo"
  wait $holder
  # A read-only opener: 'get -r -f FIFO', once it has read a key from a
  # table, keeps the table mapped (no lock) while it waits for the next.
  "$S" compact "$db"
  "$S" get -r -f "$T/rdrs.fifo" "$db" >/dev/null 2>&1 &
  reader=$!
  exec 3>"$T/rdrs.fifo"
  echo k >&3
  wait_for '"$S" readers "$db" | grep -q "^$reader "'
  run "$S" readers "$db"
  grep -q "^$reader  *reader  *strata  *[1-9]" "$T/out" && ok || bad "readers lists a read-only opener: $(cat "$T/out")"
  exec 3>&-
  wait $reader
  run "$S" readers "$T/missing-db"
  expect_rc 1 "readers of a missing database"
  run "$S" readers "$db" extra
  expect_rc 2 "readers with an extra operand"
}

# ---- interoperability with LMDB's mdb_dump / mdb_load ----------------------

# mdb_dump's header has LMDB-only lines; without them the dumps must match.
strip_lmdb_header() {
  grep -v -e '^mapsize=' -e '^maxreaders=' -e '^db_pagesize=' -e '^mapaddr=' "$1"
}

# strata_dump_stripped ARGS...: strata dump without its mapsize= line.
strata_dump_stripped() {
  "$S" dump "$@" | grep -v '^mapsize='
}

group_mdb() {
  if ! command -v mdb_dump >/dev/null 2>&1 || ! command -v mdb_load >/dev/null 2>&1; then
    echo "cli_test: mdb_dump/mdb_load not installed (lmdb-utils); mdb group skipped"
    return
  fi
  # LMDB forbids empty keys, so this set has none; it has NUL, 0xff,
  # an empty value, newline, backslash and non-ASCII bytes.
  cat >"$T/mdb-in.txt" <<'EOF'
VERSION=3
format=bytevalue
type=btree
HEADER=END
 00
 
 0000ff
 00ff
 615c62
 5c0a41
 636166c3a9
 c3a9
 6b0a
 0d0a09
 ff
 ffff
DATA=END
EOF
  mkdir "$T/env1"
  mdb_load -f "$T/mdb-in.txt" "$T/env1" || bad "mdb_load of the test input"

  # mdb_dump | strata load, then strata dump must equal mdb_dump.
  mdb_dump "$T/env1" >"$T/mdb.hex"
  run "$S" load -f "$T/mdb.hex" "$T/from-mdb"
  expect_rc 0 "strata load of mdb_dump output"
  strata_dump_stripped "$T/from-mdb" >"$T/strata.hex"
  strip_lmdb_header "$T/mdb.hex" >"$T/mdb.hex.stripped"
  same_file "$T/mdb.hex.stripped" "$T/strata.hex" "strata dump is byte-identical to mdb_dump"
  same_file "$T/mdb-in.txt" "$T/strata.hex" "mdb round trip keeps every byte"

  # mdb_dump -p leaves '\' unescaped, so compare -p output on data without it.
  printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 00\n 7e20\n 41420a\n 09ff\n 7a\n c3a9\nDATA=END\n' \
    >"$T/mdb-in2.txt"
  mkdir "$T/env2"
  mdb_load -f "$T/mdb-in2.txt" "$T/env2"
  mdb_dump -p "$T/env2" >"$T/mdb.print"
  run "$S" load -f "$T/mdb.print" "$T/from-mdb-p"
  expect_rc 0 "strata load of mdb_dump -p output"
  strata_dump_stripped -p "$T/from-mdb-p" >"$T/strata.print"
  strip_lmdb_header "$T/mdb.print" >"$T/mdb.print.stripped"
  same_file "$T/mdb.print.stripped" "$T/strata.print" "strata dump -p is byte-identical to mdb_dump -p"

  # strata dump | mdb_load, then mdb_dump must give back the same pairs.
  for fmt in hex print; do
    opt=""
    [ $fmt = print ] && opt=-p
    mkdir "$T/env-$fmt"
    "$S" dump $opt "$T/from-mdb" | mdb_load "$T/env-$fmt"
    check '[ $? -eq 0 ]' "mdb_load accepts strata dump $opt"
    mdb_dump "$T/env-$fmt" >"$T/back.$fmt"
    strip_lmdb_header "$T/back.$fmt" >"$T/back.$fmt.stripped"
    same_file "$T/strata.hex" "$T/back.$fmt.stripped" "strata dump $opt | mdb_load keeps every byte"
  done

  # -T plain text both ways.
  printf 'alpha\n1\nb\\5cta\n\\00\\ff\n' >"$T/plain-mdb.txt"
  mkdir "$T/env-plain"
  mdb_load -T -f "$T/plain-mdb.txt" "$T/env-plain"
  "$S" load -T -f "$T/plain-mdb.txt" "$T/strata-plain"
  mdb_dump "$T/env-plain" >"$T/a"
  strip_lmdb_header "$T/a" >"$T/a.stripped"
  strata_dump_stripped "$T/strata-plain" >"$T/b"
  same_file "$T/a.stripped" "$T/b" "load -T reads what mdb_load -T reads"
}

# A dump of more than 50 MiB (100000 pairs of 100-byte values, 2000 of
# 8 KiB values that LMDB keeps on overflow pages) loads with mdb_load, which
# sizes its map only from the header's mapsize= line, both from a file
# (mapsize= written at the end in place) and from a pipe (computed by a
# first pass), and comes back identical through mdb_dump.
group_mdbbig() {
  if ! command -v mdb_dump >/dev/null 2>&1 || ! command -v mdb_load >/dev/null 2>&1; then
    echo "cli_test: mdb_dump/mdb_load not installed (lmdb-utils); mdbbig group skipped"
    return
  fi
  awk 'BEGIN {
    v = ""; for (i = 0; i < 100; i++) v = v "v"
    big = ""; for (i = 0; i < 8192; i++) big = big "b"
    for (i = 0; i < 100000; i++) printf "key%09d\n%s%d\n", i, v, i
    for (i = 0; i < 2000; i++) printf "big%06d\n%s\n", i, big
  }' >"$T/big.txt"
  "$S" load -T -q --batch 10000 -f "$T/big.txt" "$T/bigdb" || bad "load of the 50 MiB data"
  rm -f "$T/big.txt"
  run "$S" dump -f "$T/big.dump" "$T/bigdb"
  expect_rc 0 "dump of 50 MiB to a file"
  size=$(wc -c <"$T/big.dump")
  check '[ "$size" -gt 52428800 ]' "the dump is over 50 MiB ($size bytes)"
  grep -q '^mapsize=[0-9]\{20\}$' "$T/big.dump" && ok || bad "a file dump has a padded mapsize= line"
  mkdir "$T/bigenv1" "$T/bigenv2"
  mdb_load -f "$T/big.dump" "$T/bigenv1" 2>"$T/err"
  rc=$?
  expect_rc 0 "mdb_load of a 50 MiB dump file"
  "$S" dump "$T/bigdb" | mdb_load "$T/bigenv2" 2>"$T/err"
  rc=$?
  expect_rc 0 "mdb_load of a 50 MiB dump through a pipe"
  grep -v '^mapsize=' "$T/big.dump" >"$T/big.want"
  rm -f "$T/big.dump"
  for e in bigenv1 bigenv2; do
    mdb_dump "$T/$e" >"$T/big.got"
    strip_lmdb_header "$T/big.got" >"$T/big.got.stripped"
    same_file "$T/big.want" "$T/big.got.stripped" "mdb_dump of $e gives the pairs back"
    rm -rf "$T/$e" "$T/big.got" "$T/big.got.stripped"
  done
  rm -rf "$T/bigdb" "$T/big.want"
}

for g in kv scan dump jsonl load errors repair subdb cdbmake edit warm progress interrupt readers watch copy hotcopy mdb mdbbig; do
  if want_group $g; then group_$g; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
