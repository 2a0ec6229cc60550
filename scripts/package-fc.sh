#!/usr/bin/env bash
# package-fc.sh - builds dist/linebot-fc.zip for an Alibaba Cloud Function
# Compute 3.0 custom runtime (Debian 10 or 11: glibc 2.28 or 2.31).
#
#   sudo scripts/package-fc.sh [--test]   (needs root: debootstrap, mount, chroot)
#
# A binary built on Debian 12 needs glibc 2.34+, so the FC zip is built where
# it can run: in a Debian 11 (bullseye) root made with debootstrap and kept
# under build-fc/ (or $LINEBOT_FC_ROOT), so that reruns only rebuild. Inside
# the root, scripts/package-lambda.sh does the work it does for Lambda: a
# Release build without tests, `bootstrap` plus every non-glibc library under
# lib/ with rpath $ORIGIN/lib, and its checks, here against GLIBC_2.31. Then
# this script checks the zip again from outside, and unpacks it into /code of a
# second, bare bullseye root that has none of the libraries installed, as a
# fresh FC instance has none of them: there `./bootstrap version` runs, and
# `./bootstrap serve` in FC mode answers /healthz and refuses a bad signature.
#
# --test also builds the unit and end-to-end tests in the bullseye root and
# runs them there: bullseye's libcurl 7.74, OpenSSL 1.1.1, libmicrohttpd
# 0.9.72, jansson 2.13, SQLite 3.34 and utf8proc 2.5 behave differently enough
# to matter (utf8proc 2.5 pairs flags wrongly without the fix in format.c).
#
# FC starts the package with the start command of the function:
#   command: ["/code/bootstrap", "serve"]    (port: FC_CUSTOM_LISTEN_PORT, 9000)
#
# Settings (environment):
#   LINEBOT_FC_ROOT     where the build root lives      (build-fc/bullseye)
#   DEBIAN_MIRROR       Debian mirror                   (http://deb.debian.org/debian)
#   LINEBOT_FC_REFRESH  1: apt-get upgrade the cached roots now; otherwise that
#                       happens when they are more than 7 days old
#
# An interrupted run (Ctrl-C, kill, even kill -9) leaves nothing that stops the
# next one: a lock file keeps two runs apart; a run first ends what an earlier
# one left running inside its roots, unmounts what it left mounted there,
# makes again a root whose debootstrap did not finish, finishes an
# interrupted dpkg, and builds from scratch when the last build was cut short.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "package-fc: needs root (debootstrap, mount, chroot): sudo $0" >&2
  exit 2
fi

suite=bullseye
max_glibc=2.31
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}
root=${LINEBOT_FC_ROOT:-build-fc/$suite}
run_root=$root-run
# bullseye's names; every one exists there (md4c is 0.4.7, utf8proc 2.5.0).
# poppler-utils: pdftotext, which `kb add x.pdf` runs (and its tests, with --test).
build_pkgs="build-essential cmake pkg-config ca-certificates patchelf zip unzip tzdata
  libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev
  libmd4c-dev libutf8proc-dev libpq-dev libxml2-dev libcmocka-dev poppler-utils"
start=$(date +%s)

run_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) run_tests=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done

. scripts/apt-common.sh
for tool in debootstrap zip unzip readelf flock; do
  if ! command -v "$tool" >/dev/null; then
    apt_install debootstrap zip unzip binutils util-linux
    break
  fi
done

# One run at a time. The lock is on a descriptor (9) that nothing started here
# inherits (9>&-), so it goes with this process, however that ends.
mkdir -p "$(dirname "$root")"
lock=$(dirname "$root")/.package-fc.lock
exec 9>"$lock"
if ! flock -n 9; then
  echo "package-fc: another run holds $lock; waiting for it" >&2
  flock 9
fi

# What an earlier run may have left in the roots: processes (a build, apt-get,
# the smoke server) and mounts (our /proc; debootstrap's /proc, /sys, /dev/pts).
abs_root=$(realpath -m "$root")
abs_run_root=$(realpath -m "$run_root")
# What runs or is mounted under these paths is ended and unmounted: never
# under / or a top-level directory.
case "$abs_root" in /*/*) ;; *) echo "package-fc: LINEBOT_FC_ROOT ($root) must be a directory of its own" >&2; exit 2 ;; esac
in_our_roots() { # path
  case "$1" in "$abs_root" | "$abs_root"/* | "$abs_run_root" | "$abs_run_root"/*) return 0 ;; esac
  return 1
}
end_leftovers() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    if in_our_roots "$r" && [ "${p#/proc/}" != "$$" ]; then
      echo "package-fc: ending process ${p#/proc/} left in $r" >&2
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  # Mount points, deepest first; each is unmounted lazily if it is busy.
  awk '{ print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    in_our_roots "$m" || continue
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}
end_leftovers

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
  done
  end_leftovers
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Mounts /proc in a root for the duration of this script: apt needs it, and
# the loader resolves $ORIGIN through /proc/self/exe, so without it even a
# correct rpath finds nothing.
enter() {
  local r=$1
  if ! mountpoint -q "$r/proc"; then
    mount -t proc proc "$r/proc"
    mounted+=("$r/proc")
  fi
}

in_root() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@" 9>&-
}

# Runs apt-get in a root; its chatter goes to a log that is shown on failure.
apt_in() {
  local r=$1
  shift
  in_root "$r" apt-get -o Dpkg::Use-Pty=0 -qq "$@" >>"$r.apt.log" 2>&1 ||
    { tail -30 "$r.apt.log" >&2; echo "package-fc: apt-get $* failed in $r" >&2; exit 1; }
}

# Makes (once) a minimal bullseye root and, when packages are given, installs
# them and refreshes them weekly (or with LINEBOT_FC_REFRESH=1). The stamp
# file records the package list; .linebot-debootstrap, a finished debootstrap.
make_root() {
  local r=$1 pkgs
  pkgs=$(echo "$2" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
  local stamp=$r/.linebot-root
  if [ ! -f "$r/.linebot-debootstrap" ]; then
    echo "== debootstrap $suite into $r"
    # Only what a debootstrap left (debootstrap/ while it runs, apt-get once
    # unpacked) is removed. Nothing is mounted there any more (end_leftovers),
    # and --one-file-system would stop at anything that still were.
    if [ -n "$(ls -A "$r" 2>/dev/null)" ] && [ ! -d "$r/debootstrap" ] && [ ! -x "$r/usr/bin/apt-get" ]; then
      echo "package-fc: $r is not empty and not a Debian root: not removing it" >&2
      exit 2
    fi
    rm -rf --one-file-system "$r"
    mkdir -p "$(dirname "$r")"
    debootstrap --variant=minbase "$suite" "$r" "$mirror" >"$r.debootstrap.log" 2>&1 9>&- ||
      { tail -20 "$r.debootstrap.log" >&2; exit 1; }
    touch "$r/.linebot-debootstrap"
  fi
  enter "$r"
  # A dpkg cut short by an earlier run is finished first (a no-op otherwise).
  in_root "$r" dpkg --configure -a >>"$r.apt.log" 2>&1 ||
    { tail -30 "$r.apt.log" >&2; echo "package-fc: dpkg --configure -a failed in $r" >&2; exit 1; }
  [ -n "$pkgs" ] || return 0
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ] && [ "${LINEBOT_FC_REFRESH:-0}" != 1 ] &&
    [ -z "$(find "$stamp" -mtime +7)" ]; then
    echo "== $r: cached ($suite with: $pkgs)"
    return
  fi
  echo "== $r: apt-get install $pkgs"
  # The point releases and the security fixes: the libraries ship in the zip.
  cat >"$r/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  : >"$r.apt.log"
  apt_in "$r" update
  # shellcheck disable=SC2086 # the list is words
  apt_in "$r" install -y --no-install-recommends $pkgs
  apt_in "$r" upgrade -y
  apt_in "$r" clean
  echo "$pkgs" >"$stamp"
}

make_root "$root" "$build_pkgs"
# debootstrap writes no /etc/hosts, so "localhost" does not resolve in the
# root (Debian 11's libcurl asks the resolver for it); FC's runtime has one.
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

echo "== copy the sources into $root/linebot"
mkdir -p "$root/linebot"
# A build killed mid-way can leave a truncated object file that looks newer
# than its source: after an interrupted run, build from scratch.
if [ -e "$root/linebot/.building" ]; then
  echo "   the last build did not finish: starting the build directories anew"
  rm -rf "$root/linebot/build-fc" "$root/linebot/build-fc-tests"
fi
touch "$root/linebot/.building"
rm -rf "$root/linebot/src" "$root/linebot/scripts" "$root/linebot/dist"
# tar keeps the mtimes, so the cached build directory only rebuilds what changed.
# A .env file holds credentials: it never leaves this machine (FC gets its
# settings as environment variables).
tar --exclude=.env --exclude='.env.*' -cf - CMakeLists.txt src scripts | tar -xf - -C "$root/linebot"

echo "== build and package inside $suite (scripts/package-lambda.sh)"
in_root "$root" /bin/sh -c 'cd /linebot && exec env LINEBOT_PKG_NAME=linebot-fc \
  LINEBOT_PKG_BUILD_DIR=build-fc LINEBOT_PKG_MAX_GLIBC='"$max_glibc"' scripts/package-lambda.sh' |
  sed 's/^/   | /'
mkdir -p dist
cp "$root/linebot/dist/linebot-fc.zip" dist/linebot-fc.zip.part
mv dist/linebot-fc.zip.part dist/linebot-fc.zip

echo "== check glibc <= $max_glibc (Debian 11), from outside the root"
scripts/check-glibc.sh dist/linebot-fc.zip "$max_glibc"
if scripts/check-glibc.sh dist/linebot-fc.zip 2.28 >/dev/null; then
  echo "   and <= 2.28: also fit for FC's Debian 10 runtime"
else
  echo "   needs more than GLIBC_2.28: Debian 11 runtime (custom.debian11) only"
fi

if [ "$run_tests" = 1 ]; then
  echo "== unit and end-to-end tests inside $suite"
  rm -rf "$root/linebot/tests" "$root/linebot/deploy"
  # The docs too: tests hold the READMEs to the settings and commands.
  tar -cf - tests README.md README.ja.md README.zh-TW.md deploy | tar -xf - -C "$root/linebot"
  # shellcheck disable=SC2016 # $(nproc) runs inside the root
  in_root "$root" /bin/sh -c 'cd /linebot &&
    cmake -S . -B build-fc-tests -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build-fc-tests -j"$(nproc)" >/dev/null &&
    cd build-fc-tests && ctest --output-on-failure -j2' | sed 's/^/   | /'
fi
rm -f "$root/linebot/.building"

make_root "$run_root" ""
echo "== run the unpacked zip in a bare $suite root ($run_root, none of the libraries installed)"
rm -rf "$run_root/code"
mkdir -p "$run_root/code"
unzip -q dist/linebot-fc.zip -d "$run_root/code"
missing=$(in_root "$run_root" /bin/sh -c 'cd /code && ldd ./bootstrap' | grep "not found" || true)
if [ -n "$missing" ]; then
  echo "package-fc: FAIL in a bare $suite root:" >&2
  echo "$missing" >&2
  exit 1
fi
version=$(in_root "$run_root" /bin/sh -c 'cd /code && ./bootstrap version')
echo "   /code/bootstrap version in $suite (glibc $(in_root "$run_root" ldd --version | sed -n '1s/.* //p')): $version"

# FC mode as FC starts it: /code/bootstrap serve, FC_* set, port from FC_CUSTOM_LISTEN_PORT.
port=$((20000 + RANDOM % 20000))
rm -f "$run_root/tmp/linebot-smoke.db"*
chroot "$run_root" /usr/bin/env -i PATH=/usr/bin:/bin FC_FUNCTION_NAME=linebot-smoke \
  FC_CUSTOM_LISTEN_PORT="$port" FC_REGION=cn-hangzhou FC_ACCOUNT_ID=0 LINE_CHANNEL_SECRET=0123456789abcdef0123456789abcdef \
  LINE_CHANNEL_ACCESS_TOKEN=smoke LLM_API_KEY=smoke LINEBOT_DB=/tmp/linebot-smoke.db \
  /bin/sh -c 'cd /code && exec ./bootstrap serve' >"$run_root.serve.log" 2>&1 9>&- &
serve_pid=$!
health=000
for _ in $(seq 50); do
  health=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-fc-control-path: /http-invoke' \
    "http://127.0.0.1:$port/healthz" || true)
  [ "$health" = 200 ] && break
  sleep 0.1
done
refused=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'x-fc-control-path: /http-invoke' \
  -H 'x-fc-request-id: smoke-1' -H 'x-line-signature: AAAA' -d '{"events":[]}' \
  "http://127.0.0.1:$port/callback" || true)
kill -TERM "$serve_pid" 2>/dev/null || true
wait "$serve_pid" || true
if [ "$health" != 200 ] || [ "$refused" != 401 ] || ! grep -q "FC Invoke End RequestId: smoke-1" "$run_root.serve.log"; then
  echo "package-fc: FAIL FC mode in $suite: /healthz $health, bad signature $refused (want 200, 401)" >&2
  tail -20 "$run_root.serve.log" >&2
  exit 1
fi
echo "   /code/bootstrap serve in FC mode: /healthz 200, bad signature 401, FC Invoke Start/End lines"

echo "== done: dist/linebot-fc.zip ($(du -k dist/linebot-fc.zip | cut -f1) KiB) in $(($(date +%s) - start)) s"
