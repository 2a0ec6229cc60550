# pg-common.sh - sourced by pg-test-server.sh and pgbouncer-test.sh: what both
# need to run their servers as the `postgres` OS user when started as root.

# Runs a command as the server's OS user (root runs it as postgres: initdb and
# the servers refuse root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
