#!/bin/bash
# Debian's PostgreSQL in a directory of its own, on a loopback port, as an unprivileged user (PostgreSQL refuses
# to run as root): initdb and pg_ctl, no system service. Role "shelf", no password (trust, loopback only).
# With OWNER_PID, the server is stopped once that process is gone (a test killed before its teardown).
# usage: postgres.sh init DIR | start DIR PORT [OWNER_PID] | stop DIR | createdb DIR PORT NAME
set -euo pipefail
cmd=$1 dir=$(realpath -m "$2")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "needs: apt-get install -y postgresql" >&2; exit 1; }
# As root, the server runs as Debian's postgres user (made by the package), or as nobody.
as=()
if [ "$(id -u)" = 0 ]; then
  user=postgres; id -u postgres >/dev/null 2>&1 || user=nobody
  as=(runuser -u "$user" --)
fi
case $cmd in
init)
  mkdir -p "$dir"
  [ ${#as[@]} -gt 0 ] && chown "$user:" "$dir"
  (cd "$dir" && "${as[@]}" "$bin/initdb" -D "$dir/data" -U shelf -A trust -E UTF8 --no-sync >/dev/null) ;;
start)
  port=$3 owner=${4:-}
  (cd "$dir" && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null)
  # In a session of its own, so that a signal to the owner's process group (timeout, Ctrl-C) spares it.
  if [ -n "$owner" ]; then setsid "$0" watch "$dir" "$owner" </dev/null >/dev/null 2>&1 & fi
  ;;
watch)
  owner=$3
  while kill -0 "$owner" 2>/dev/null && [ -d "$dir/data" ]; do sleep 2; done
  [ -d "$dir/data" ] && cd "$dir" && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir" ;;
stop) (cd "$dir" && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null) ;;
createdb) "$bin/psql" -h 127.0.0.1 -p "$3" -U shelf -d postgres -qc "CREATE DATABASE $4" ;;
*) echo "usage: $0 init DIR | start DIR PORT [OWNER_PID] | stop DIR | createdb DIR PORT NAME" >&2; exit 2 ;;
esac
