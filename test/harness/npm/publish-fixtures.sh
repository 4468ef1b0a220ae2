#!/bin/bash
# Publishes real packages made here into an npm registry with the npm client: a dependency chain
# (shelf-fix-a -> b -> c), a scoped package, a package with many versions and dist-tags, one with a bin and
# an install script, and a tarball large enough to stream. Copied from the shared harness; the user config
# is isolated from the machine's, and each publish's failure is shown.
# usage: publish-fixtures.sh REGISTRY_URL [BIG_MIB]
set -euo pipefail
reg=${1%/}/ big=${2:-8}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
host=${reg#http://}; host=${host#https://}
printf '//%s:_authToken=fixture-publisher\nregistry=%s\naudit=false\nfund=false\nupdate-notifier=false\n' "$host" "$reg" > "$work/.npmrc"
pub() { # name version [dep-json] [big] [npm-args] [extra package.json fields]
  local d="$work/p-$RANDOM$RANDOM"; mkdir -p "$d"
  printf '{"name":"%s","version":"%s","description":"fixture %s","main":"index.js","license":"MIT","dependencies":%s%s}\n' \
    "$1" "$2" "$1" "${3:-{\}}" "${6:-}" > "$d/package.json"
  echo "module.exports = '$1@$2';" > "$d/index.js"
  [ -n "${4:-}" ] && head -c "$((big*1024*1024))" /dev/urandom > "$d/blob.bin"
  (cd "$d" && npm publish --userconfig "$work/.npmrc" --cache "$work/cache" --registry "$reg" ${5:-} >"$d/log" 2>&1) \
    || { echo "publish $1@$2 failed:" >&2; cat "$d/log" >&2; exit 1; }
}
pub shelf-fix-c 1.0.0
pub shelf-fix-b 1.0.0 '{"shelf-fix-c":"^1.0.0"}'
pub shelf-fix-a 1.0.0 '{"shelf-fix-b":"^1.0.0"}'
pub @shelf/scoped 2.0.0 '{"shelf-fix-c":"1.0.0"}'
for v in 0.1.0 0.2.0 0.3.0 1.0.0 1.1.0 2.0.0-beta.1; do
  tag=""; [[ $v == *beta* ]] && tag="--tag next"
  pub shelf-fix-many "$v" '{}' '' "$tag"
done
pub shelf-fix-tool 1.0.0 '{}' '' '' ',"bin":{"shelf-fix-tool":"index.js"},"scripts":{"install":"node -e 0"}'
pub shelf-fix-big 1.0.0 '{}' big
echo "published 12 versions to $reg"
