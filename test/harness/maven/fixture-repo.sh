#!/bin/bash
# Debian's maven-repo as a Central-like layout (make-repo.py) in DIR, readable by nginx's worker user,
# built once per machine under flock, since test files and benches run in parallel and share it.
# usage: fixture-repo.sh DIR
set -euo pipefail
here=$(dirname "$(realpath "$0")")
dir=$(realpath -m "$1")
(
  flock 9
  [ -f "$dir/.done" ] || { python3 "$here/make-repo.py" "$dir" >/dev/null && chmod -R a+rX "$dir" && touch "$dir/.done"; }
) 9>"$dir.lock"
