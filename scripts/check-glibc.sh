#!/usr/bin/env bash
# check-glibc.sh - proves that a package runs on an older glibc.
#
#   scripts/check-glibc.sh <dir-or-zip> <max-version>      e.g. dist/linebot-lambda.zip 2.34
#
# A binary linked against glibc records, per library, the symbol versions it
# needs (GLIBC_2.2.5, GLIBC_2.34, ...) in its .gnu.version_r section; the
# dynamic loader refuses to start it on a glibc that lacks any of them. This
# script reads those records from every ELF file in the package (readelf), so
# the answer does not depend on the glibc of the machine that runs the check.
# It fails when a file needs a version newer than <max-version>, or needs
# GLIBC_PRIVATE (glibc's internal ABI, which only glibc's own libraries may
# use and which changes between releases), and names the file and symbols.
# Prints the highest version needed on success.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <dir-or-zip> <max-glibc-version, e.g. 2.34>" >&2
  exit 2
fi
target=$1
max=${2#GLIBC_}
command -v readelf >/dev/null || { echo "check-glibc: readelf not found (binutils)" >&2; exit 2; }

dir=$target
if [ -f "$target" ]; then
  command -v unzip >/dev/null || { echo "check-glibc: unzip not found" >&2; exit 2; }
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  unzip -q "$target" -d "$dir"
elif [ ! -d "$target" ]; then
  echo "check-glibc: $target is neither a directory nor a zip file" >&2
  exit 2
fi

# Is version $1 newer than version $2? (dotted numbers, as sort -V orders them)
newer() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]; }

files=0
fail=0
highest=""
highest_file=""
while IFS= read -r -d '' f; do
  # ELF magic: 0x7f 'E' 'L' 'F'.
  [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ] || continue
  files=$((files + 1))
  rel=${f#"$dir"/}
  # "Name: GLIBC_2.34  Flags: none  Version: 5" lines of the version needs.
  needed=$(readelf -W --version-info "$f" 2>/dev/null |
    sed -n 's/.*Name: \(GLIBC_[A-Z0-9_.]*\).*/\1/p' | sort -u)
  for v in $needed; do
    n=${v#GLIBC_}
    if [ "$n" = "PRIVATE" ]; then
      syms=$(readelf -W --dyn-syms "$f" | awk '$7 == "UND" { split($8, a, "@"); if (a[2] == "GLIBC_PRIVATE") print a[1] }' | sort -u | tr '\n' ' ')
      echo "check-glibc: FAIL $rel needs GLIBC_PRIVATE: ${syms:-?}"
      fail=1
      continue
    fi
    if ! [[ $n =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
      # GLIBC_ABI_DT_RELR and the like: markers that only new glibc provides.
      echo "check-glibc: FAIL $rel needs GLIBC_$n (not a numbered version; newer glibc only)"
      fail=1
      continue
    fi
    if [ -z "$highest" ] || newer "$n" "$highest"; then
      highest=$n
      highest_file=$rel
    fi
    if newer "$n" "$max"; then
      syms=$(readelf -W --dyn-syms "$f" | awk -v v="GLIBC_$n" '$7 == "UND" { split($8, a, "@"); if (a[2] == v) print a[1] }' | sort -u | tr '\n' ' ')
      echo "check-glibc: FAIL $rel needs GLIBC_$n > GLIBC_$max: ${syms:-?}"
      fail=1
    fi
  done
done < <(find "$dir" -type f -print0 | sort -z)

if [ "$files" -eq 0 ]; then
  echo "check-glibc: FAIL no ELF file in $target" >&2
  exit 1
fi
if [ "$fail" -ne 0 ]; then
  echo "check-glibc: $target does not run on glibc $max"
  exit 1
fi
echo "check-glibc: ok: $files ELF files in $target; highest needed GLIBC_${highest:-none} (${highest_file:-no glibc symbols}) <= GLIBC_$max"
