#!/usr/bin/env bash
# pgbouncer-test.sh - Debian's PgBouncer in transaction mode in front of the
# test server of pg-test-server.sh, so the PostgreSQL store suite can prove it
# stays pooler-safe (issue 9: unnamed statements, no session state,
# transaction-scoped advisory locks).
#
#   scripts/pgbouncer-test.sh start   install pgbouncer if missing, start it; idempotent
#   scripts/pgbouncer-test.sh stop    stop it if running; idempotent
#   scripts/pgbouncer-test.sh url     print the URL for LINEBOT_TEST_PG_URL
#
# It listens on 127.0.0.1 only, port $PGBOUNCER_TEST_PORT (default 56432),
# keeps its files under $PGBOUNCER_TEST_DIR (default /tmp/linebot-pgbouncer-test)
# and forwards every database name (the store suite makes a database per test
# behind a pooler: LINEBOT_TEST_PG_DATABASES=1) to the server on $PG_TEST_PORT
# (default 55432) as the `linebot` role. Start the server first.
# Run as root, pgbouncer runs as the `postgres` OS user (it refuses root).
set -euo pipefail

PG_TEST_PORT="${PG_TEST_PORT:-55432}"
PGBOUNCER_TEST_PORT="${PGBOUNCER_TEST_PORT:-56432}"
PGBOUNCER_TEST_DIR="${PGBOUNCER_TEST_DIR:-/tmp/linebot-pgbouncer-test}"
CONF="$PGBOUNCER_TEST_DIR/pgbouncer.ini"
PIDFILE="$PGBOUNCER_TEST_DIR/pgbouncer.pid"
LOG="$PGBOUNCER_TEST_DIR/pgbouncer.log"
URL="postgres://linebot:linebot@127.0.0.1:${PGBOUNCER_TEST_PORT}/linebot"

die() { echo "pgbouncer-test: $*" >&2; exit 1; }

for port in "$PG_TEST_PORT" "$PGBOUNCER_TEST_PORT"; do
  case "$port" in ''|*[!0-9]*) die "PG_TEST_PORT and PGBOUNCER_TEST_PORT must be numbers" ;; esac
done

# as_owner
. "$(dirname "$0")/pg-common.sh"

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

install_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] && return 0
  [ "$(id -u)" -eq 0 ] || die "pgbouncer is not installed (apt-get install pgbouncer, as root)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
}

write_config() {
  mkdir -p "$PGBOUNCER_TEST_DIR"
  # SCRAM towards the server needs the plain password (auth_file); it is the
  # test role's, the same one pg-test-server.sh prints in its URL.
  echo '"linebot" "linebot"' >"$PGBOUNCER_TEST_DIR/userlist.txt"
  cat >"$CONF" <<EOF
; pgbouncer-test.sh: a throwaway pooler for the tests
[databases]
* = host=127.0.0.1 port=$PG_TEST_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_TEST_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGBOUNCER_TEST_DIR/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
; Startup options such as search_path are refused (as by most managed
; poolers): the store suite uses a database per test behind a pooler.
ignore_startup_parameters = extra_float_digits
server_reset_query =
logfile = $LOG
pidfile = $PIDFILE
EOF
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$PGBOUNCER_TEST_DIR"
  fi
  chmod 700 "$PGBOUNCER_TEST_DIR"
}

cmd="${1:-}"
case "$cmd" in
  start)
    if ! is_running; then
      install_pgbouncer
      write_config
      as_owner "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" -d "$CONF" >/dev/null
      for _ in $(seq 50); do
        is_running && break
        sleep 0.1
      done
      is_running || { tail -n 20 "$LOG" >&2 || true; die "pgbouncer did not start"; }
    fi
    echo "PgBouncer (transaction mode) running: $URL" >&2
    ;;
  stop)
    if is_running; then
      kill "$(cat "$PIDFILE")"
      for _ in $(seq 50); do
        is_running || break
        sleep 0.1
      done
    fi
    ;;
  url)
    echo "$URL"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
