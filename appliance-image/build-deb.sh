#!/usr/bin/env bash
# Builds shelf_<version>_<arch>.deb for Debian 12 and 13: the release in /usr/lib/shelf with its own Node
# runtime (this build host's node, which the native modules are built for: Debian 12's nodejs is 18, too
# old), /usr/bin/shelf, the unit, and package/setup-host as the maintainer scripts. SHELF_VERSION and
# SHELF_STAGE are stage.sh's.
# usage: appliance-image/build-deb.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/out}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
app=$root/usr/lib/shelf

"$here/stage.sh" "$app"
version=$(node -p 'require(process.argv[1]).version' "$app/package.json")
arch=$(dpkg --print-architecture)

# The Node runtime the native modules were built for, with its licence.
install -D -m 0755 "$(node -p process.execPath)" "$app/node/bin/node"
for licence in /usr/share/doc/nodejs/LICENSE /usr/share/licenses/nodejs/LICENSE; do
  [ -f "$licence" ] && install -D -m 0644 "$licence" "$app/node/LICENSE" && break
done
install -d "$root/usr/bin" "$root/usr/share/shelf" "$root/usr/share/doc/shelf" "$root/lib/systemd/system"
ln -s ../lib/shelf/bin/shelf "$root/usr/bin/shelf"
install -m 0644 "$app/config/shelf.yaml" "$root/usr/share/shelf/shelf.yaml"
install -m 0644 "$app"/systemd/*.service "$root/lib/systemd/system/"
cp "$app"/docs/*.md "$root/usr/share/doc/shelf/"

install -d "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$(du -sk "$root" | cut -f1)/" "$here/deb/control" > "$root/DEBIAN/control"
# Each maintainer script is setup-host for its phase (preinst runs before the release is unpacked).
for phase in preinst postinst prerm postrm; do
  sed "s/^PHASE=.*/PHASE=$phase/" "$here/package/setup-host" > "$root/DEBIAN/$phase"
  chmod 0755 "$root/DEBIAN/$phase"
done
mkdir -p "$out"
deb="$out/shelf_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zzstd --build "$root" "$deb" >/dev/null
(cd "$out" && sha256sum "$(basename "$deb")" > "$(basename "$deb").sha256")
echo "$deb"
