# shellcheck shell=bash
# apt-common.sh - sourced by the scripts that install the Debian packages they
# need (setup.sh, test.sh, package-lambda.sh, package-fc.sh).
#
#   apt_install PKG...   installs them, as root or through sudo, after one
#                        `apt-get update` per run; nothing without arguments.

apt_updated=0
apt_install() {
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
