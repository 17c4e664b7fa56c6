#!/bin/sh
# Installs the Debian packages Strata needs to build and test, when missing.
# Needs root (apt-get) only when something is missing.
set -e
# Extra packages may be named as arguments (make fuzz passes clang, for libFuzzer;
# the tests' replay driver of the fuzz corpora needs only gcc).
PKGS="gcc make cmake pkg-config libsnappy-dev libzstd-dev libcmocka-dev libleveldb-dev librocksdb-dev gnuplot-nox lmdb-utils wamerican\
  python3-dev python3-venv python3-pip python3-setuptools python3-wheel python3-pytest\
  python3-hypothesis python3-numpy python3-plyvel python3-lmdb python3-rapidjson python3-hiredis mypy\
  man-db libarchive-dev python3-tqdm $*"
# strata-server: libevent and OpenSSL to build it; redis-server (the conformance oracle and the
# benchmark's peer), redis-tools (redis-cli, redis-benchmark), nutcracker (twemproxy),
# python3-redis (redis-py) and openssl (test certificates) to test it.
PKGS="$PKGS libevent-dev libssl-dev openssl redis-server redis-tools nutcracker python3-redis"
# The Python package's typed store (strata.typed): python3-rapidjson (openleveldb's JSON),
# python3-redis and python3-hiredis (strata.connect's protocol layer and its C reply parser);
# its benchmark's openleveldb-style HTTP peer: python3-flask, python3-requests.
PKGS="$PKGS python3-flask python3-requests"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
