#!/usr/bin/env bash
# test.sh - builds and runs every test: unit tests (cmocka) and end-to-end tests
# that start the real binary against fake LINE and LLM servers on loopback.
# With SANITIZE=1 it builds in build-asan with AddressSanitizer + UBSan instead.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${SANITIZE:-0}" = "1" ]; then
  dir=build-asan
  args=(-DCMAKE_BUILD_TYPE=Debug -DLINEBOT_SANITIZE=ON -DCMAKE_C_COMPILER=clang)
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
fi
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j2 "$@"
