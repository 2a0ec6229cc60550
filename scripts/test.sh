#!/usr/bin/env bash
# test.sh - builds and runs every test: unit tests (cmocka) and end-to-end tests
# that start the real binary against fake LINE and LLM servers on loopback.
# With SANITIZE=1 it builds in build-asan with AddressSanitizer + UBSan instead.
# Arguments go to ctest (e.g. -R '^unit\.').
#
# First it installs what the tests need and this machine lacks (apt-get, as
# root or through sudo): cmocka, a PostgreSQL 15 server and PgBouncer for the
# store tests, Caddy, systemd-analyze and curl for the deploy/server test,
# pdftotext (poppler-utils) for the knowledge base's PDFs,
# Node.js and npm for the benchmark smoke run and deploy/check.sh, and with
# SANITIZE=1 clang with its sanitizer runtime.
#
# PostgreSQL: with LINEBOT_TEST_PG_URL unset, it starts the throwaway server of
# scripts/pg-test-server.sh (PG_TEST_PORT, PG_TEST_DIR) for the run and stops
# it afterwards; set it to use your own server, or set it empty to skip the
# PostgreSQL tests (ctest then lists them as "Not Run (Skipped)").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/apt-common.sh

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
need=()
pkg-config --exists cmocka 2>/dev/null || need+=(libcmocka-dev)
[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || need+=(postgresql)
have pgbouncer || need+=(pgbouncer)
have curl || need+=(curl)
have caddy || need+=(caddy)
have systemd-analyze || need+=(systemd)
have pdftotext || need+=(poppler-utils) # the knowledge base's PDFs
# Debian's Node.js, unless a node and npm are already there (e.g. from
# NodeSource, whose nodejs conflicts with Debian's npm).
if ! have node || ! have npm; then need+=(nodejs npm); fi
if [ "${SANITIZE:-0}" = "1" ]; then
  have clang || need+=(clang)
  # The runtime is only a Recommends of clang-14.
  [ -e "$(clang -print-file-name=libclang_rt.asan-x86_64.a 2>/dev/null)" ] || need+=(libclang-rt-14-dev)
fi
apt_install "${need[@]}"

if [ -z "${LINEBOT_TEST_PG_URL+set}" ]; then
  if ! "$root/scripts/pg-test-server.sh" status >/dev/null 2>&1; then
    "$root/scripts/pg-test-server.sh" start
    trap '"$root/scripts/pg-test-server.sh" stop >/dev/null' EXIT
  fi
  LINEBOT_TEST_PG_URL="$("$root/scripts/pg-test-server.sh" url)"
  export LINEBOT_TEST_PG_URL
fi

dir=build
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLINEBOT_BUILD_TESTS=ON)
if [ "${SANITIZE:-0}" = "1" ]; then
  dir=build-asan
  args=(-DCMAKE_BUILD_TYPE=Debug -DLINEBOT_BUILD_TESTS=ON -DLINEBOT_SANITIZE=ON -DCMAKE_C_COMPILER=clang)
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
fi
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j2 "$@"
