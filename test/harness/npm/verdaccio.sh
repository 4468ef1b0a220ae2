#!/bin/bash
# Verdaccio on 127.0.0.1:PORT as an offline npm upstream (no uplinks), anonymous publish allowed, so
# fixtures can be published into it with the real npm client. Copied from the shared harness and improved:
# the tool is installed once per machine (TOOLDIR, under flock, since test files run in parallel), bodies up
# to 200 MB are accepted (big fixture tarballs), and every request is logged as JSON to count them.
# With VERDACCIO_UPLINK=URL it is a caching proxy of that registry instead (what it has cached it serves
# without asking again for VERDACCIO_MAXAGE, default 2m as Verdaccio's own).
# usage: [VERDACCIO_UPLINK=URL] verdaccio.sh start|stop DIR PORT [TOOLDIR]
set -euo pipefail
cmd=$1 dir=$(realpath -m "$2") port=$3
tool=$(realpath -m "${4:-${TMPDIR:-/tmp}/shelf-test-verdaccio-6.8.0}")
mkdir -p "$dir"
case $cmd in
start)
  (
    flock 9
    if [ ! -x "$tool/node_modules/.bin/verdaccio" ]; then
      # verdaccio 6.8 is the last to support Node 20; its node-fetch@cjs dist-tag is pinned to 2.7.0
      mkdir -p "$tool"; echo '{"private":true,"overrides":{"node-fetch":"2.7.0"}}' > "$tool/package.json"
      npm install --prefix "$tool" --no-audit --no-fund verdaccio@6.8.0 >"$tool.install.log" 2>&1 \
        || { echo "verdaccio install failed; see $tool.install.log" >&2; exit 1; }
    fi
  ) 9>"$tool.lock"
  uplinks='{}' proxy=''
  if [ -n "${VERDACCIO_UPLINK:-}" ]; then
    uplinks="{ up: { url: '$VERDACCIO_UPLINK', maxage: ${VERDACCIO_MAXAGE:-2m}, timeout: 60s } }" proxy='    proxy: up'
  fi
  cat > "$dir/config.yaml" <<YAML
storage: $dir/storage
auth:
  htpasswd:
    file: $dir/htpasswd
    max_users: -1
uplinks: $uplinks
packages:
  '**':
    access: \$all
    publish: \$all
    unpublish: \$all
$proxy
max_body_size: 200mb
server:
  keepAliveTimeout: 60
log: { type: file, path: $dir/verdaccio.log, format: json, level: http }
YAML
  nohup "$tool/node_modules/.bin/verdaccio" --config "$dir/config.yaml" --listen "127.0.0.1:$port" >"$dir/stdout.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$port/-/ping" >/dev/null && exit 0; sleep 0.5; done
  echo "verdaccio did not start; see $dir/stdout.log" >&2; exit 1 ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dir/pid" ;;
*) echo "usage: $0 start|stop DIR PORT [TOOLDIR]" >&2; exit 2 ;;
esac
