#!/usr/bin/env bash
# pg-test-server.sh - a throwaway PostgreSQL 15 cluster for the tests.
#
#   scripts/pg-test-server.sh start    init (first time) and start; idempotent
#   scripts/pg-test-server.sh stop     stop if running; idempotent
#   scripts/pg-test-server.sh restart  stop (fast) and start again, keeping the data
#   scripts/pg-test-server.sh status   exit 0 when running
#   scripts/pg-test-server.sh url      print the URL for LINEBOT_TEST_PG_URL
#   scripts/pg-test-server.sh destroy  stop and delete the data directory
#
# It listens on 127.0.0.1 only, port $PG_TEST_PORT (default 55432), keeps its
# data under $PG_TEST_DIR (default /tmp/linebot-pg-test) and has a `linebot`
# role (password `linebot`, CREATEDB) owning a `linebot` database. Durability is off
# (fsync, synchronous_commit): it is for tests, never for data you keep.
# Run as root, the server runs as the `postgres` OS user (initdb refuses root).
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_TEST_DIR="${PG_TEST_DIR:-/tmp/linebot-pg-test}"
PG_TEST_PORT="${PG_TEST_PORT:-55432}"
DATA="$PG_TEST_DIR/data"
LOG="$PG_TEST_DIR/server.log"
URL="postgres://linebot:linebot@127.0.0.1:${PG_TEST_PORT}/linebot"

die() { echo "pg-test-server: $*" >&2; exit 1; }

case "$PG_TEST_PORT" in ''|*[!0-9]*) die "PG_TEST_PORT must be a number" ;; esac

# as_owner
. "$(dirname "$0")/pg-common.sh"

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
  [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb: install PostgreSQL 15 (apt-get install postgresql)"
  mkdir -p "$PG_TEST_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres OS user (it comes with the postgresql package)"
    chown postgres: "$PG_TEST_DIR"
  fi
  chmod 700 "$PG_TEST_DIR"
  as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_TEST_DIR/initdb.log" 2>&1 ||
    { cat "$PG_TEST_DIR/initdb.log" >&2; die "initdb failed"; }
  cat >>"$DATA/postgresql.conf" <<EOF

# pg-test-server.sh: a throwaway test server
listen_addresses = '127.0.0.1'
port = $PG_TEST_PORT
unix_socket_directories = '$PG_TEST_DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
log_min_error_statement = panic
EOF
}

start_server() {
  as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null ||
    { tail -n 20 "$LOG" >&2 || true; die "the server did not start"; }
}

psql_admin() {
  as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_TEST_DIR" -p "$PG_TEST_PORT" \
    -U postgres "$@"
}

# The role and database; safe to run again.
ensure_role_and_db() {
  psql_admin -d postgres <<'EOF' >/dev/null
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'linebot') THEN
    CREATE ROLE linebot LOGIN PASSWORD 'linebot';
  END IF;
  -- Tests behind a pooler use a database per test (LINEBOT_TEST_PG_DATABASES=1).
  ALTER ROLE linebot CREATEDB;
END
$$;
EOF
  if [ "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'linebot'")" != "1" ]; then
    psql_admin -d postgres -c "CREATE DATABASE linebot OWNER linebot" >/dev/null
  fi
}

cmd="${1:-}"
case "$cmd" in
  start)
    if ! is_running; then
      [ -f "$DATA/PG_VERSION" ] || init_cluster
      start_server
    fi
    ensure_role_and_db
    echo "PostgreSQL test server running: $URL" >&2
    ;;
  stop)
    if is_running; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    ;;
  restart)
    [ -f "$DATA/PG_VERSION" ] || die "no test cluster in $DATA: run start first"
    if is_running; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    start_server
    ;;
  status)
    is_running
    ;;
  url)
    echo "$URL"
    ;;
  destroy)
    if is_running; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$PG_TEST_DIR"
    ;;
  *)
    echo "usage: $0 start|stop|restart|status|url|destroy" >&2
    exit 2
    ;;
esac
