#!/bin/bash
# A Verdaccio storage directory with the fixtures published into it, built once per machine (under flock)
# and copied by each test that needs a seeded upstream.
# usage: fixture-storage.sh TEMPLATE_DIR [BIG_MIB]
set -euo pipefail
here=$(dirname "$(realpath "$0")")
template=$(realpath -m "$1") big=${2:-8}
(
  flock 9
  [ -f "$template/done" ] && exit 0
  rm -rf "$template" "$template.build"; mkdir -p "$template.build"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$here/verdaccio.sh" start "$template.build" "$port"
  trap '"$here/verdaccio.sh" stop "$template.build" "$port"' EXIT
  "$here/publish-fixtures.sh" "http://127.0.0.1:$port/" "$big" >/dev/null
  "$here/verdaccio.sh" stop "$template.build" "$port"; trap - EXIT
  mkdir -p "$template"; mv "$template.build/storage" "$template/storage"; rm -rf "$template.build"
  touch "$template/done"
) 9>"$template.lock"
