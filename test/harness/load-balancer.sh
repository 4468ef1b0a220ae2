#!/bin/bash
# nginx (from Debian) as the load balancer in front of several Shelf nodes, as docs/operations.md sets it up:
# round robin; a node that refuses connections, times out or answers 502/504 is skipped and an idempotent
# request goes to the next one. A 503 is Shelf's own answer (the shared database or an upstream is away), the
# same from every node, so it goes to the client. Bodies and answers stream through unbuffered.
# usage: load-balancer.sh start RUN_DIR LISTEN_PORT NODE_PORT... | stop RUN_DIR
set -euo pipefail
cmd=$1 run=$(realpath -m "$2")
source "$(dirname "$0")/nginx-run.sh"
case $cmd in
start)
  port=$3; shift 3
  servers=""
  for node in "$@"; do servers+="    server 127.0.0.1:$node max_fails=1 fail_timeout=5s;"$'\n'; done
  nginx_start "$run" "http://127.0.0.1:$port/-/healthz" "
  upstream shelf_nodes {
$servers    keepalive 32;
  }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_pass http://shelf_nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_next_upstream error timeout http_502 http_504;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 300s;
    }
  }" ;;
stop) nginx_stop "$run" ;;
*) echo "usage: $0 start RUN_DIR LISTEN_PORT NODE_PORT... | stop RUN_DIR" >&2; exit 2 ;;
esac
