#!/usr/bin/env bash
# Stages one release of Shelf into DIR: compiled server, production dependencies built for this Node (no
# build leftovers), the appliance's default config, the unit, docs, the `shelf` command, and abi.json naming
# the Node ABI the native modules were built for. SHELF_VERSION overrides package.json's version; SHELF_STAGE
# names a directory this script made before, copied instead of building again (the packages of one test run).
# usage: appliance-image/stage.sh DIR
set -euo pipefail
dir=$(realpath -m "$1")
cd "$(dirname "$0")/.."
rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
set_version() {
  [ -z "${SHELF_VERSION:-}" ] || node -e 'const f=process.argv[1]; const p=require(f); p.version=process.argv[2]; require("fs").writeFileSync(f, JSON.stringify(p, null, 2)+"\n")' "$dir/package.json" "$SHELF_VERSION"
}
if [ -n "${SHELF_STAGE:-}" ]; then
  cp -a "$SHELF_STAGE" "$dir"
  set_version
  exit 0
fi
mkdir "$dir"
# Compiled into the stage, not ./dist: tests running beside this build read ./dist.
npx tsc -p tsconfig.json --outDir "$dir/dist"
node ui/build.mjs "$dir/dist/ui"
cp -r package.json package-lock.json README.md docs systemd "$dir/"
set_version
mkdir -p "$dir/config" "$dir/bin"
# The default config with the appliance's data directory (one file to keep up to date, not two).
sed 's#^  dataDir: .*#  dataDir: /var/lib/shelf/data#' config/shelf.yaml > "$dir/config/shelf.yaml"
install -m 0755 appliance-image/package/shelf appliance-image/package/shelf-rollback appliance-image/package/setup-host appliance-image/package/shelf-firstboot appliance-image/package/shelf-banner "$dir/bin/"
(cd "$dir" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
# unix-dgram is optional for `npm install` (it needs a compiler); the appliance cannot be ready without it.
(cd "$dir" && node -e 'require("better-sqlite3"); require("unix-dgram")') || { echo "stage: a native module did not build" >&2; exit 1; }
# Native modules: only the built addon stays (objects, sources and the SQLite amalgamation are ~27 MB).
for module in "$dir"/node_modules/better-sqlite3 "$dir"/node_modules/unix-dgram; do
  find "$module/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$module/build/Release" -mindepth 1 ! -name '*.node' -exec rm -rf {} +
  rm -rf "$module/deps" "$module/src"
done
node -e 'console.log(JSON.stringify({ node: process.version, modules: process.versions.modules, platform: process.platform, arch: process.arch }))' > "$dir/abi.json"
