#!/usr/bin/env bash
# Installs Shelf from an unpacked appliance tarball: /opt/shelf, the shelf user, /etc/shelf, /var/lib/shelf,
# and the systemd service. An existing /etc/shelf/shelf.yaml is kept.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
command -v node >/dev/null || { echo "needs Node.js >= 20.18.1" >&2; exit 1; }
node -e 'const [a,b,c]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&(b>18||(b===18&&c>=1)))?0:1)' \
  || { echo "needs Node.js >= 20.18.1, found $(node --version)" >&2; exit 1; }

id shelf >/dev/null 2>&1 || useradd --system --home-dir /var/lib/shelf --shell /usr/sbin/nologin shelf
rm -rf /opt/shelf.new && cp -r "$src" /opt/shelf.new
rm -rf /opt/shelf.old && { [ -d /opt/shelf ] && mv /opt/shelf /opt/shelf.old || true; }
mv /opt/shelf.new /opt/shelf && rm -rf /opt/shelf.old
install -d -o shelf -g shelf -m 0750 /var/lib/shelf
install -d -m 0755 /etc/shelf
[ -f /etc/shelf/shelf.yaml ] || install -m 0644 /opt/shelf/config/shelf.yaml /etc/shelf/shelf.yaml
# The default config's npm remote reads its upstream from SHELF_NPM_UPSTREAM: this machine's npm registry.
if [ ! -f /etc/shelf/shelf.env ]; then
  registry=$(npm config get registry 2>/dev/null || true)
  install -m 0640 -g shelf /dev/null /etc/shelf/shelf.env
  [ -n "$registry" ] && echo "SHELF_NPM_UPSTREAM=$registry" >> /etc/shelf/shelf.env
fi
set -a; . /etc/shelf/shelf.env; set +a
node /opt/shelf/dist/cli/main.js config check /etc/shelf/shelf.yaml
install -m 0644 /opt/shelf/systemd/shelf.service /etc/systemd/system/shelf.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now shelf
  echo "shelf is running: systemctl status shelf"
  echo "on its first start it made the user admin; the password is in /var/lib/shelf/data/security/initial-admin-password"
else
  echo "installed; systemd is not running here, start with: node /opt/shelf/dist/cli/main.js serve --config /etc/shelf/shelf.yaml"
fi
