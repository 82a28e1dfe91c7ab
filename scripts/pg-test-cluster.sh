#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS 3 cluster for the PostGIS store tests.
#
#   scripts/pg-test-cluster.sh run CMD ARGS...   start a cluster, run CMD with
#        CANOPY_TEST_PG set to its connection string ("host=... port=... user=...
#        dbname=canopy"), then stop and remove the cluster, also when CMD fails or
#        the script is interrupted; exits with CMD's status.
#   scripts/pg-test-cluster.sh start DIR          start one in DIR (must not exist),
#        print its connection string; `stop DIR` stops it and removes DIR.
#   scripts/pg-test-cluster.sh start-for PID DIR  the same, and a watchdog stops and
#        removes it when process PID ends (how the Rust tests start their own when
#        CANOPY_TEST_PG is not set: even a killed test run leaves nothing behind).
#
# The cluster lives in a temporary directory, listens only on its own Unix socket
# directory and 127.0.0.1 on a free port, and trusts local connections (test only).
# As root, initdb and postgres run as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || {
  echo "pg-test-cluster.sh: no PostgreSQL 15 in $PGBIN (scripts/setup.sh installs postgresql-15-postgis-3)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  local user; user=$(if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi)
  as_owner "$PGBIN/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; return 1; }
  # One role that must give its password (the rest is trust): the tests' wrong
  # password case (tests/store_pg.rs, CANOPY_TEST_PG_PASSWORD_ROLE).
  sed -i '1i host all canopy_pw 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
  local port; port=$(free_port)
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null || {
    cat "$dir/server.log" >&2; return 1; }
  echo "$port" >"$dir/port"
  "$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE canopy" >/dev/null
  "$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U "$user" -d canopy -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION postgis" -c "CREATE ROLE canopy_pw LOGIN PASSWORD 'right'" >/dev/null
  echo "host=127.0.0.1 port=$port user=$user dbname=canopy"
}

stop() {
  local dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  start-for)
    pid=$2 dir=$3
    start "$dir"
    ( trap '' HUP INT
      while kill -0 "$pid" 2>/dev/null; do sleep 1; done
      stop "$dir" ) </dev/null >/dev/null 2>&1 &
    ;;
  run)
    shift
    dir=$(mktemp -d "${TMPDIR:-/tmp}/canopy-pg.XXXXXX")
    rmdir "$dir"
    trap 'stop "$dir"' EXIT INT TERM
    conn=$(start "$dir")
    echo "== throwaway PostGIS cluster: $conn ($dir)" >&2
    CANOPY_TEST_PG="$conn" CANOPY_TEST_PG_PASSWORD_ROLE=canopy_pw "$@"
    ;;
  *)
    echo "usage: $0 run CMD ARGS... | start DIR | start-for PID DIR | stop DIR" >&2
    exit 2
    ;;
esac
