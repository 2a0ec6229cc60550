#!/usr/bin/env bash
# package-lambda.sh - builds dist/linebot-lambda.zip for an AWS Lambda custom
# runtime (provided.al2023: Amazon Linux 2023, glibc 2.34).
#
#   scripts/package-lambda.sh
#
# The zip holds `bootstrap` (the Release build of linebot, stripped) and, under
# lib/, every shared library it loads except glibc's own. Lambda unpacks it to
# /var/task and runs /var/task/bootstrap, which finds its libraries through the
# rpath $ORIGIN/lib. The rpath is written as DT_RPATH, not DT_RUNPATH, on
# purpose: Lambda sets LD_LIBRARY_PATH=/lib64:/usr/lib64:...:/var/task/lib, and
# only DT_RPATH is searched before LD_LIBRARY_PATH, so an Amazon Linux
# libcrypto.so.3 in /lib64 can never be mixed with our libssl.so.3. A bundled
# library that needs another bundled one gets DT_RPATH $ORIGIN as well.
#
# zoneinfo/ holds the build system's compiled time zones (/usr/share/zoneinfo
# without its posix/ and right/ copies, about 2 MB unpacked): neither Lambda's
# provided.al2023 nor a bare FC instance is sure to have tzdata, and
# LINEBOT_TIMEZONE=Asia/Tokyo must work there. linebot looks for a zone in
# /usr/share/zoneinfo, then in zoneinfo/ next to its binary (io/timezone.h).
#
# Afterwards the script proves what it made: scripts/check-glibc.sh (no symbol
# newer than GLIBC_2.34), and the zip unpacked into a temporary directory runs
# `./bootstrap version` with an empty LD_LIBRARY_PATH, and with Lambda's the
# loader still takes every non-glibc library from the package's lib/ (ldd).
#
# scripts/package-fc.sh runs this same script inside a Debian 11 root, with:
#   LINEBOT_PKG_NAME       zip name under dist/            (linebot-lambda)
#   LINEBOT_PKG_BUILD_DIR  CMake build directory           (build-lambda)
#   LINEBOT_PKG_MAX_GLIBC  newest glibc the target has     (2.34)
# Needs: a C compiler and the -dev packages of scripts/setup.sh; it installs
# its own tools when they are missing: cmake, patchelf, zip, unzip, binutils.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${LINEBOT_PKG_NAME:-linebot-lambda}
build=${LINEBOT_PKG_BUILD_DIR:-build-lambda}
max_glibc=${LINEBOT_PKG_MAX_GLIBC:-2.34}
out=dist/$name.zip

# Its own tools, when missing (the libraries come from scripts/setup.sh).
. scripts/apt-common.sh
declare -A pkg_of=([cmake]=cmake [patchelf]=patchelf [zip]=zip [unzip]=unzip [readelf]=binutils [strip]=binutils)
need=()
for tool in "${!pkg_of[@]}"; do
  command -v "$tool" >/dev/null || need+=("${pkg_of[$tool]}")
done
# shellcheck disable=SC2046 # one word per package
apt_install $(printf '%s\n' "${need[@]}" | sort -u)

echo "== build ($build, Release, no tests)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLINEBOT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target linebot -j"$(nproc)" >/dev/null

stage=$build/package
rm -rf "$stage"
mkdir -p "$stage/lib" dist
cp "$build/linebot" "$stage/bootstrap"
strip --strip-unneeded "$stage/bootstrap"

# glibc's own libraries come from the system that runs the package; everything
# else is bundled. (libcrypt is libxcrypt and libnsl.so.2 is libtirpc's, not
# glibc's, so they are bundled.)
is_glibc() {
  case "$1" in
    ld-linux*.so.* | linux-vdso.so.* | libc.so.* | libm.so.* | libmvec.so.* | libpthread.so.* | \
      libdl.so.* | librt.so.* | libresolv.so.* | libutil.so.* | libanl.so.* | libnsl.so.1 | \
      libnss_*.so.* | libBrokenLocale.so.* | libthread_db.so.* | libc_malloc_debug.so.*) return 0 ;;
  esac
  return 1
}

# ldd lists the whole closure: "libcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x...)".
# The name left of "=>" is the DT_NEEDED name the loader looks for, so the copy
# in lib/ takes that name.
ldd_out=$(ldd "$build/linebot")
if grep -q "not found" <<<"$ldd_out"; then
  echo "package: unresolved libraries:" >&2
  grep "not found" <<<"$ldd_out" >&2
  exit 1
fi
bundled=()
while read -r soname arrow path _; do
  [ "$arrow" = "=>" ] || continue
  is_glibc "$soname" && continue
  case "$path" in
    */glibc-hwcaps/* | */haswell/*)
      # A copy built for this machine's CPU level would fail on an older one.
      echo "package: $soname resolves to a CPU-specific build ($path)" >&2
      exit 1
      ;;
  esac
  cp -L "$path" "$stage/lib/$soname"
  chmod 0755 "$stage/lib/$soname"
  bundled+=("$soname")
done <<<"$ldd_out"

# shellcheck disable=SC2016 # $ORIGIN is for the loader, not the shell
patchelf --force-rpath --set-rpath '$ORIGIN/lib' "$stage/bootstrap"
for lib in "${bundled[@]}"; do
  # Only where a bundled library needs another bundled one.
  for dep in $(patchelf --print-needed "$stage/lib/$lib"); do
    if [ -e "$stage/lib/$dep" ]; then
      # shellcheck disable=SC2016
      patchelf --force-rpath --set-rpath '$ORIGIN' "$stage/lib/$lib"
      break
    fi
  done
done

# The time zones LINEBOT_TIMEZONE may name (see the top). Without tzdata here
# the package could not honour a zone name: stop rather than ship without.
[ -e /usr/share/zoneinfo/Asia/Tokyo ] || apt_install tzdata
if [ ! -e /usr/share/zoneinfo/Asia/Tokyo ]; then
  echo "package: /usr/share/zoneinfo is missing: install tzdata (the zip bundles the time zones)" >&2
  exit 1
fi
mkdir -p "$stage/zoneinfo"
(cd /usr/share/zoneinfo && tar --exclude=./posix --exclude=./right -cf - .) | (cd "$stage/zoneinfo" && tar -xf -)

rm -f "$out"
# Never a .env file (credentials; `bootstrap` would read one from its working directory).
(cd "$stage" && zip -q -r -X "$OLDPWD/$out" bootstrap lib zoneinfo -x '.env' '*/.env' '.env.*' '*/.env.*')
echo "== $out: $(du -k "$out" | cut -f1) KiB zipped, $(du -sk "$stage" | cut -f1) KiB unpacked," \
  "${#bundled[@]} bundled libraries"
echo "${bundled[*]}" | fold -s -w 96 | sed 's/^/   /'

echo "== check glibc <= $max_glibc"
scripts/check-glibc.sh "$out" "$max_glibc"

echo "== smoke test: unpack elsewhere, run ./bootstrap version"
smoke=$(mktemp -d)
trap 'rm -rf "$smoke"' EXIT
unzip -q "$out" -d "$smoke"
# LD_LIBRARY_PATH as Lambda sets it: the system directories come first.
lambda_llp=/lib64:/usr/lib64:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
version=$(cd "$smoke" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= ./bootstrap version)
echo "   ./bootstrap version: $version"
# The time zones LINEBOT_TIMEZONE may name travel in the zip (io/timezone.h).
if [ "$(head -c 4 "$smoke/zoneinfo/Asia/Tokyo" 2>/dev/null)" != "TZif" ]; then
  echo "package: FAIL zoneinfo/Asia/Tokyo is not in the zip" >&2
  exit 1
fi
echo "   zoneinfo/: $(find "$smoke/zoneinfo" -type f | wc -l) time zones"
# The loader's own account (ldd sets LD_TRACE_LOADED_OBJECTS): "libcurl.so.4 => /tmp/x/lib/libcurl.so.4 (0x...)".
loaded=$(cd "$smoke" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$lambda_llp" ldd "$smoke/bootstrap" |
  awk '$2 == "=>" { print $3 }')
strays=0
while read -r path; do
  [ -n "$path" ] || continue
  soname=${path##*/}
  is_glibc "$soname" && continue
  case "$path" in
    "$smoke"/lib/*) ;;
    *) echo "package: FAIL $soname was loaded from $path, not from the package" >&2; strays=1 ;;
  esac
done <<<"$loaded"
# And in a real run (LD_DEBUG=libs): the loader never even looks outside the
# package for a bundled library, because the rpath is searched first.
tries=$(cd "$smoke" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$lambda_llp" LD_DEBUG=libs \
  ./bootstrap version 2>&1 >/dev/null | sed -n 's/.*trying file=//p')
while read -r path; do
  [ -n "$path" ] || continue
  soname=${path##*/}
  is_glibc "$soname" && continue
  case "$path" in
    "$smoke"/lib/* | ./lib/*) ;;
    *) echo "package: FAIL the loader looked for $soname at $path" >&2; strays=1 ;;
  esac
done <<<"$tries"
n_loaded=$(grep -c "^$smoke/lib/" <<<"$loaded" || true)
if [ "$strays" -ne 0 ] || [ "$n_loaded" -ne "${#bundled[@]}" ]; then
  echo "package: FAIL $n_loaded of ${#bundled[@]} bundled libraries loaded from the package" >&2
  exit 1
fi
echo "   all $n_loaded bundled libraries load from the package's lib/ (ldd; LD_DEBUG=libs: $(grep -c . <<<"$tries") look-ups," \
  "none outside it), also with Lambda's LD_LIBRARY_PATH"
echo "== done: $out"
