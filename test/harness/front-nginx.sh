#!/bin/bash
# nginx (from Debian) in front of Shelf, serving the site that `shelf service nginx-front` wrote. As root its
# workers run as root, so they read the blob files as Shelf's own group would. The site must listen on address:port.
# usage: [NGINX_WORKERS=N] front-nginx.sh start|stop SITE RUN_DIR
set -euo pipefail
cmd=$1 site=$(realpath -m "$2") run=$(realpath -m "$3")
source "$(dirname "$0")/nginx-run.sh"
case $cmd in
start)
  listen=$(sed -nE 's/^ *listen ([^;]+);/\1/p' "$site" | head -1)
  [ "$(id -u)" = 0 ] && export NGINX_USER=root
  nginx_start "$run" "http://$listen/-/healthz" "  include $site;" ;;
stop) nginx_stop "$run" ;;
*) echo "usage: $0 start|stop SITE RUN_DIR" >&2; exit 2 ;;
esac
