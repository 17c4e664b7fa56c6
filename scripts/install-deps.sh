#!/bin/sh
# Installs the Debian packages Strata needs to build and test, when missing.
# Needs root (apt-get) only when something is missing.
set -e
# clang: libFuzzer for `make fuzz` (the tests' replay driver needs only gcc).
PKGS="gcc make cmake pkg-config libsnappy-dev libzstd-dev libcmocka-dev libleveldb-dev librocksdb-dev gnuplot-nox lmdb-utils wamerican clang"
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
