#!/usr/bin/env bash
# Builds the tarball for Linux systems without dpkg: a release staged by stage.sh (it runs on the host's
# Node, whose ABI must match abi.json: install.sh checks), its install.sh, and a .sha256 file beside it.
# SHELF_VERSION and SHELF_STAGE are stage.sh's.
# usage: appliance-image/build.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/out}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/stage.sh" "$work/stage"
version=$(node -p 'require(process.argv[1]).version' "$work/stage/package.json")
name="shelf-$version-linux-$(uname -m)"
mv "$work/stage" "$work/$name"
cp "$here/install.sh" "$work/$name/install.sh"
mkdir -p "$out"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
