#!/usr/bin/env bash
# Installs (or upgrades) Shelf from an unpacked release tarball: /opt/shelf, /usr/bin/shelf, the shelf user,
# /etc/shelf and the systemd service, like the .deb does. An existing /etc/shelf/shelf.yaml is kept; an
# upgrade backs up the index and keeps the previous release for `shelf rollback`.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
# The native modules (SQLite, sd_notify) are built for one Node ABI: another Node cannot load them.
want=$(sed -n 's/.*"modules":"\([0-9]*\)".*/\1/p' "$src/abi.json")
built=$(sed -n 's/.*"node":"\([^"]*\)".*/\1/p' "$src/abi.json")
command -v node >/dev/null || { echo "needs Node.js $built (ABI $want) on the PATH; or install the .deb, which brings its own Node" >&2; exit 1; }
have=$(node -p process.versions.modules)
if [ "$have" != "$want" ]; then
  echo "this release is built for Node.js $built (ABI $want); this host's node is $(node --version) (ABI $have)." >&2
  echo "install Node.js ${built%%.*} (the major version decides the ABI), or use the .deb, which brings its own Node" >&2
  exit 1
fi

old=""
if [ -x /usr/bin/shelf ]; then
  old=$(/usr/bin/shelf --version 2>/dev/null || true)
  [ -z "$old" ] || SHELF_APP=/opt/shelf "$src/bin/setup-host" preinst upgrade "$old"
fi
rm -rf /opt/shelf.new && cp -a "$src" /opt/shelf.new
rm -rf /opt/shelf.old && { [ -d /opt/shelf ] && mv /opt/shelf /opt/shelf.old || true; }
mv /opt/shelf.new /opt/shelf && rm -rf /opt/shelf.old
ln -sfn /opt/shelf/bin/shelf /usr/bin/shelf
install -m 0644 /opt/shelf/systemd/shelf.service /etc/systemd/system/shelf.service
SHELF_APP=/opt/shelf /opt/shelf/bin/setup-host postinst configure "$old"
