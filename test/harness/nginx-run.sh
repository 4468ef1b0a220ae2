# Sourced by static-upstream.sh and front-nginx.sh: an nginx of their own in RUN (config, pid, logs, temp files).

# nginx_start RUN PROBE_URL DIRECTIVES: writes RUN/nginx.conf around the http-level DIRECTIVES, starts nginx
# with NGINX_WORKERS workers (default 1; as NGINX_USER when set), and waits until PROBE_URL answers anything.
nginx_start() {
  local run=$1 probe=$2 directives=$3
  command -v nginx >/dev/null || { echo "needs: apt-get install -y nginx-light" >&2; exit 1; }
  mkdir -p "$run"
  cat > "$run/nginx.conf" <<CONF
${NGINX_USER:+user $NGINX_USER;}
worker_processes ${NGINX_WORKERS:-1};
pid $run/nginx.pid;
error_log $run/error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log $run/access.log;
  client_body_temp_path $run/body; proxy_temp_path $run/proxy; fastcgi_temp_path $run/fcgi;
  uwsgi_temp_path $run/uwsgi; scgi_temp_path $run/scgi;
$directives
}
CONF
  nginx -c "$run/nginx.conf"
  for _ in $(seq 1 40); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$probe" || true)" != 000 ] && return 0
    sleep 0.25
  done
  echo "nginx did not start; see $run/error.log" >&2
  exit 1
}

# nginx_stop RUN
nginx_stop() {
  [ -f "$1/nginx.pid" ] && kill "$(cat "$1/nginx.pid")" 2>/dev/null
  true
}
