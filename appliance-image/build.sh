#!/usr/bin/env bash
# Builds the appliance tarball: compiled server, production dependencies built for this platform,
# systemd unit, default config and installer. usage: appliance-image/build.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-appliance-image/out}")
version=$(node -p 'require("./package.json").version')
name="shelf-$version-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

npm run build >/dev/null
mkdir -p "$stage/$name"
cp -r dist package.json package-lock.json README.md docs systemd "$stage/$name/"
mkdir -p "$stage/$name/config"
# The default config, with the appliance's data directory (one file to keep up to date, not two).
sed 's#^  dataDir: .*#  dataDir: /var/lib/shelf/data#' config/shelf.yaml > "$stage/$name/config/shelf.yaml"
cp appliance-image/install.sh "$stage/$name/install.sh"
(cd "$stage/$name" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
mkdir -p "$out"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
