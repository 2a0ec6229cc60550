#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages linebot needs, then builds build/linebot.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup.sh: installing packages needs root: run it as root, or install sudo" >&2
    exit 1
  fi
  SUDO="sudo"
fi

# Node.js and npm: for the benchmark's reference peer (bench/run.sh) and the
# Terraform/HCL parse check (deploy/check.sh). Debian's own, unless a node and
# npm are already there (e.g. from NodeSource, whose nodejs conflicts with
# Debian's npm).
node_pkgs=()
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then node_pkgs=(nodejs npm); fi

$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config ca-certificates curl openssl \
  libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev \
  libcmocka-dev libmd4c-dev libutf8proc-dev libpq-dev postgresql pgbouncer \
  clang libclang-rt-14-dev "${node_pkgs[@]}" >/dev/null

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
echo "built: build/linebot ($(build/linebot version))"
