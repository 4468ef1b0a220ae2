#!/bin/bash
# nginx (from Debian) in front of Shelf, serving the site that `shelf service nginx-front` wrote. Its workers
# run as the calling user, so they read the blob files as Shelf's own user would let its group read them.
# The site must listen on address:port.
# usage: [NGINX_WORKERS=N] front-nginx.sh start|stop SITE RUN_DIR
set -euo pipefail
cmd=$1 site=$(realpath -m "$2") run=$(realpath -m "$3")
case $cmd in
start)
  command -v nginx >/dev/null || { echo "needs: apt-get install -y nginx-light" >&2; exit 1; }
  mkdir -p "$run"
  listen=$(sed -nE 's/^ *listen ([^;]+);/\1/p' "$site" | head -1)
  cat > "$run/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes ${NGINX_WORKERS:-1};
pid $run/nginx.pid;
error_log $run/error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log $run/access.log;
  client_body_temp_path $run/body; proxy_temp_path $run/proxy; fastcgi_temp_path $run/fcgi;
  uwsgi_temp_path $run/uwsgi; scgi_temp_path $run/scgi;
  include $site;
}
CONF
  nginx -c "$run/nginx.conf"
  for _ in $(seq 1 40); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$listen/-/healthz" || true)" != 000 ] && exit 0
    sleep 0.25
  done
  echo "nginx did not start; see $run/error.log" >&2; exit 1 ;;
stop)
  [ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null; true ;;
*) echo "usage: $0 start|stop SITE RUN_DIR" >&2; exit 2 ;;
esac
