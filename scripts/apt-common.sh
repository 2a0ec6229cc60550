# shellcheck shell=bash
# apt-common.sh - sourced by the scripts that install the Debian packages they
# need (setup.sh, test.sh, package-lambda.sh, package-fc.sh).
#
#   apt_install PKG...   installs those not installed yet, as root or through
#                        sudo, after one `apt-get update` per run; nothing
#                        (and no root needed) when all are there.

apt_updated=0
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
  done
  set -- "${missing[@]}"
  [ $# -gt 0 ] || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$(basename "$0"): installing $* needs root: run it as root, or install sudo" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "== apt-get install $*"
  if [ "$apt_updated" = 0 ]; then
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
