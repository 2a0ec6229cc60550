#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages that building and running linebot
# need (a compiler, CMake, the libraries), then builds build/linebot.
# What only the tests need (cmocka, a PostgreSQL server, clang, Node.js, Caddy)
# is installed by scripts/test.sh when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/apt-common.sh

# poppler-utils is not needed to build: its pdftotext reads PDFs for
# `linebot kb add x.pdf`, run as a program of its own.
apt_install build-essential cmake pkg-config ca-certificates curl openssl \
  libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev \
  libmd4c-dev libutf8proc-dev libpq-dev libxml2-dev poppler-utils

# The tests need cmocka, which scripts/test.sh installs (and then turns them on).
tests=OFF
pkg-config --exists cmocka && tests=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLINEBOT_BUILD_TESTS=$tests
cmake --build build --target linebot -j"$(nproc)"
echo "built: build/linebot ($(build/linebot version | head -1))"
