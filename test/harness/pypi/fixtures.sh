#!/bin/bash
# The PyPI fixtures (make-dists.py: dists, a PEP 503 index, uploads/) in DIR, built once per machine under
# flock, since test files and benches run in parallel and share them.
# usage: fixtures.sh DIR [BIG_MIB]
set -euo pipefail
here=$(dirname "$(realpath "$0")")
dir=$(realpath -m "$1")
(
  flock 9
  [ -d "$dir/uploads" ] || python3 "$here/make-dists.py" "$dir" "${2:-8}" >/dev/null
) 9>"$dir.lock"
