#!/bin/sh
# server_bench.sh - strata-server beside Debian's redis-server, one interleaved run.
#
# usage: sh bench/server_bench.sh [build-dir]          (make bench-server)
#
# For each durability mode, both servers are started fresh on loopback, in
# matching modes:
#     always     strata-server --sync always     redis-server --appendonly yes --appendfsync always
#     everysec   strata-server --sync everysec   redis-server --appendonly yes --appendfsync everysec
#     no         strata-server --sync no         redis-server --appendonly no --save ""
# and Debian's redis-benchmark runs against each in turn (the order alternates
# per round), unpipelined and with -P 16:
#     redis-benchmark -t set,get,incr,mset -n $N -r 1000000 -c 50 [-P 16] --csv
# The table gives requests/s of each and the ratio strata/redis (above 1: strata
# is faster), medians over $ROUNDS rounds. Databases live under the build
# directory (a real disk, so fdatasync costs what it costs), not in tmpfs.
#
# Environment: N (200000), ROUNDS (1), MODES ("always everysec no"),
# CLIENTS (50), BIG=1 adds the large-data-set check: GET over 10,000,000 keys
# (loaded with redis-cli --pipe, a 64 MiB block cache: the data set is larger
# than the cache) against GET over 200,000 keys with the same settings.
# Results: <build>/bench-server/results.txt (and .csv).
set -eu

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
SERVER=$BUILD/strata-server
[ -x "$SERVER" ] || { echo "server_bench: $SERVER missing (make build)" >&2; exit 2; }
N=${N:-200000}
ROUNDS=${ROUNDS:-1}
MODES=${MODES:-"always everysec no"}
CLIENTS=${CLIENTS:-50}
OUT=$BUILD/bench-server
rm -rf "$OUT"
mkdir -p "$OUT"
RAW=$OUT/raw.csv
: >"$RAW"

PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port pid
  i=0
  while [ $i -lt 300 ]; do
    redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# start_strata MODE DIR [extra...] -> sets SPORT, SPID
start_strata() {
  mode=$1
  dir=$2
  shift 2
  SPORT=$(free_port)
  "$SERVER" --port "$SPORT" --bind 127.0.0.1 --dir "$dir" --sync "$mode" "$@" \
    >"$dir.log" 2>&1 &
  SPID=$!
  PIDS="$PIDS $SPID"
  wait_port "$SPORT" "$SPID" || { echo "strata-server did not start:"; cat "$dir.log"; exit 1; }
}

# start_redis MODE DIR -> sets RPORT, RPID
start_redis() {
  mode=$1
  dir=$2
  mkdir -p "$dir"
  RPORT=$(free_port)
  case $mode in
    always | everysec) persist="--appendonly yes --appendfsync $mode" ;;
    *) persist="--appendonly no" ;;
  esac
  # shellcheck disable=SC2086
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$dir" --save "" $persist \
    --daemonize no >"$dir.log" 2>&1 &
  RPID=$!
  PIDS="$PIDS $RPID"
  wait_port "$RPORT" "$RPID" || { echo "redis-server did not start:"; cat "$dir.log"; exit 1; }
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# bench NAME MODE PIPELINE PORT ROUND: appends "name,mode,P,test,rps,round" rows to $RAW
bench() {
  redis-benchmark -h 127.0.0.1 -p "$4" -t set,get,incr,mset -n "$N" -r 1000000 -c "$CLIENTS" \
    -P "$3" --csv 2>/dev/null | tr -d '"' | awk -F, -v s="$1" -v m="$2" -v p="$3" -v r="$5" \
    'NR > 1 && $2 + 0 > 0 { print s "," m "," p "," $1 "," $2 "," r }' >>"$RAW"
}

echo "strata-server beside redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
echo "command: redis-benchmark -t set,get,incr,mset -n $N -r 1000000 -c $CLIENTS [-P 16] --csv"
echo "modes: $MODES; rounds: $ROUNDS; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
round=1
while [ $round -le "$ROUNDS" ]; do
  for mode in $MODES; do
    start_strata "$mode" "$OUT/strata-$mode-$round"
    start_redis "$mode" "$OUT/redis-$mode-$round"
    for P in 1 16; do
      if [ $((round % 2)) -eq 1 ]; then
        bench strata "$mode" $P "$SPORT" $round
        bench redis "$mode" $P "$RPORT" $round
      else
        bench redis "$mode" $P "$RPORT" $round
        bench strata "$mode" $P "$SPORT" $round
      fi
      echo "  round $round, sync $mode, -P $P: done"
    done
    stop "$SPID"
    stop "$RPID"
  done
  round=$((round + 1))
done

# The table: medians per (mode, P, test).
awk -F, '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { key = $2 SUBSEP $3 SUBSEP $4; v[$1, key] = v[$1, key] " " $5; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
  END {
    printf "| sync | -P | test | strata-server req/s | redis-server req/s | strata / redis |\n"
    printf "|---|---:|---|---:|---:|---:|\n"
    for (i = 1; i <= k; i++) {
      split(order[i], f, SUBSEP)
      s = median(v["strata", order[i]]); r = median(v["redis", order[i]])
      printf "| %s | %s | %s | %.0f | %.0f | %.2fx |\n", f[1], f[2], f[3], s, r, (r > 0 ? s / r : 0)
    }
  }' "$RAW" | tee "$OUT/results.txt"

if [ "${BIG:-0}" = 1 ]; then
  echo
  echo "Large data set: GET over 10,000,000 keys against GET over 200,000 keys (sync no,"
  echo "64 MiB block cache, keys key:%012d loaded with redis-cli --pipe, values 3 bytes)"
  # load PORT COUNT: SET key:000000000000 .. key:<COUNT-1> through redis-cli --pipe
  load() {
    awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i }' |
      redis-cli -h 127.0.0.1 -p "$1" --pipe | tail -1
  }
  getrate() { # port range
    redis-benchmark -h 127.0.0.1 -p "$1" -t get -n "$N" -r "$2" -c "$CLIENTS" --csv |
      tr -d '"' | awk -F, 'NR > 1 { print $2 }'
  }
  start_strata no "$OUT/small" --cache-size 64mb
  load "$SPORT" 200000
  small=$(getrate "$SPORT" 200000)
  stop "$SPID"
  start_strata no "$OUT/big" --cache-size 64mb
  t0=$(date +%s)
  load "$SPORT" 10000000
  echo "  10,000,000 keys loaded in $(($(date +%s) - t0)) s; $(du -sh "$OUT/big" | cut -f1) on disk"
  large=$(getrate "$SPORT" 10000000)
  stop "$SPID"
  awk -v s="$small" -v l="$large" 'BEGIN {
    printf "  GET, 200,000 keys: %.0f req/s; 10,000,000 keys: %.0f req/s (%.2fx)\n", s, l, l / s }' |
    tee -a "$OUT/results.txt"
fi
cp "$RAW" "$OUT/results.csv"
echo "results: $OUT/results.txt"
