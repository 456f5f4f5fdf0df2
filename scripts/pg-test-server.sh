#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the tests (ctest -L postgres): initdb into a temporary
# directory, a free loopback port, the unix socket inside that directory, fsync off unless PG_TEST_DURABLE=1 (the data
# is thrown away). Run as root, the server runs as the unprivileged user `nobody` (PostgreSQL
# refuses to run as root).
#
# Usage: pg-test-server.sh start STATE_FILE   starts a server; STATE_FILE gets its directory
#        pg-test-server.sh stop STATE_FILE    stops it and removes the directory
# After start, <dir>/conninfo holds the connection string (user danvan, TCP on 127.0.0.1,
# scram-sha-256) and <dir>/password the password (mode 0600).
set -euo pipefail
cmd=${1:?start|stop}
state=${2:?state file}
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# The server it starts must not inherit the caller's stdout/stderr: ctest waits until every
# holder of its output pipe has closed it.
as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
stop() {
  [ -f "$state" ] || return 0
  local dir
  dir=$(cat "$state")
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_server "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop </dev/null >/dev/null 2>&1 || true
    fi
    # A run leaves hundreds of databases (one per test case, ~7 MB each): removing them took
    # 50-110 s on a loaded CI machine, all of it on the suite's critical path. The stopped
    # server's files are renamed away at once and removed in the background (detached, its
    # output not tied to ctest's pipe).
    local gone="$dir.removing"
    if mv "$dir" "$gone" 2>/dev/null; then
      setsid rm -rf "$gone" </dev/null >/dev/null 2>&1 &
    else
      rm -rf "$dir"
    fi
  fi
  rm -f "$state"
}
case "$cmd" in
  stop) stop ;;
  start)
    stop  # a server left by an interrupted run
    dir=$(mktemp -d /tmp/danvan-pg.XXXXXX)
    echo "$dir" > "$state"
    chmod 0755 "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$password" > "$dir/password"
    chmod 0644 "$dir/password"  # readable by initdb running as nobody; tightened below
    mkdir -p "$dir/data" "$dir/sock"
    [ "$(id -u)" = 0 ] && chown nobody "$dir/data" "$dir/sock"
    as_server "$BIN/initdb" -D "$dir/data" -U danvan --pwfile="$dir/password" -E UTF8 \
      --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
    chmod 0600 "$dir/password"
    # PG_TEST_DURABLE=1 (benchmarks): fsync and synchronous commit on, as in production.
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${PG_TEST_DURABLE:-0}" = 1 ] && durability=""
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_server "$BIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
      -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 $durability -c max_connections=200 -c shared_buffers=64MB" \
      start </dev/null >"$dir/pg_ctl.log" 2>&1 || { cat "$dir/pg_ctl.log" "$dir/data/server.log" >&2; exit 1; }
    echo "host=127.0.0.1 port=$port user=danvan dbname=postgres connect_timeout=10" > "$dir/conninfo"
    echo "$dir"
    ;;
  *) echo "usage: $0 start|stop STATE_FILE" >&2; exit 2 ;;
esac
