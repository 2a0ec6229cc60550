#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages linebot needs, then builds build/linebot.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config ca-certificates curl openssl \
  libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev \
  libcmocka-dev libmd4c-dev libutf8proc-dev libpq-dev postgresql \
  clang libclang-rt-14-dev >/dev/null

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
echo "built: build/linebot ($(build/linebot version))"
