#!/usr/bin/env bash
# Installs the Debian packages pgfold needs to build, test and demo, if any are missing.
# Runs apt-get only when something is absent, so a prepared machine pays nothing.
set -eu
pkgs="build-essential pkg-config libuv1-dev libpq-dev libpg-query-dev libcmocka-dev libinih-dev
libprotobuf-c-dev postgresql postgresql-contrib pgbouncer python3-psycopg2 python3-psycopg
python3-django python3-sqlalchemy procps curl gnuplot-nox valgrind
libssl-dev libjansson-dev openssl clang libclang-rt-14-dev
python3-djangorestframework ruby-activerecord ruby-pg prometheus systemd"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The machine image may ship its own Node.js (with npm bundled); Debian's npm package would
# conflict with it, so ask apt only when the commands are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    if [ "$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$missing" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
fi
