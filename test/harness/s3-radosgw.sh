#!/bin/bash
# A real S3-compatible server from Debian's packages: Ceph's RADOS gateway over a one-monitor, one-OSD
# cluster whose OSD keeps its objects in memory, all on loopback, cephx off. Starts in about 15 s.
# It prints the endpoint; the access key and secret are shelf / shelf-secret.
# With OWNER_PID, the cluster is stopped once that process is gone (a test killed before its teardown).
# usage: s3-radosgw.sh start DIR MON_PORT RGW_PORT [OWNER_PID] | stop DIR
set -euo pipefail
cmd=$1 dir=$(realpath -m "$2")
for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool; do
  command -v "$tool" >/dev/null || { echo "needs: apt-get install -y radosgw ceph-mon ceph-osd" >&2; exit 1; }
done

stop() {
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case $cmd in
start)
  mon_port=$3 rgw_port=$4 owner=${5:-}
  mkdir -p "$dir"/{mon,osd,run,log,rgw}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  conf=$dir/ceph.conf
  # msgr v1 only: one plain port, no v2 handshake to configure.
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v1:127.0.0.1:$mon_port]
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
[mon.a]
mon data = $dir/mon
public addr = 127.0.0.1:$mon_port
[osd.0]
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = 4294967296
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
EOF
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph -c "$conf" osd new "$uuid")
  ceph-osd -c "$conf" -i "$id" --mkfs --osd-objectstore memstore --osd-uuid "$uuid" >/dev/null 2>&1
  # Started too soon after the monitor's election, the OSD may send its first command without the cluster's
  # fsid, be refused and exit: it is started again until it is up.
  for _ in $(seq 20); do
    pgrep -F "$dir/run/osd.$id.pid" >/dev/null 2>&1 || ceph-osd -c "$conf" -i "$id" 2>/dev/null || true
    ceph -c "$conf" osd dump 2>/dev/null | grep -q "^osd.$id up" && break
    sleep 1
  done
  radosgw -c "$conf" -n client.rgw.a
  for _ in $(seq 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/" && break
    sleep 0.5
  done
  curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/" || { echo "radosgw did not answer; see $dir/log" >&2; exit 1; }
  radosgw-admin -c "$conf" user create --uid shelf --display-name shelf --access-key shelf --secret-key shelf-secret >/dev/null
  # In a session of its own, so that a signal to the owner's process group (timeout, Ctrl-C) spares it.
  if [ -n "$owner" ]; then setsid "$0" watch "$dir" "$owner" </dev/null >/dev/null 2>&1 & fi
  echo "http://127.0.0.1:$rgw_port" ;;
stop) stop ;;
watch)
  owner=$3
  while kill -0 "$owner" 2>/dev/null && [ -d "$dir/run" ]; do sleep 2; done
  [ -d "$dir/run" ] && stop ;;
*) echo "usage: $0 start DIR MON_PORT RGW_PORT [OWNER_PID] | stop DIR" >&2; exit 2 ;;
esac
