#!/usr/bin/env bash
# ansible-test wants the collection at ansible_collections/<ns>/<name>; copy the
# files git would ship (tracked, plus untracked and not ignored) there and run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# Outside this checkout: inside it, ansible-test would ask git and see only ignored files.
dest="${NEXCAGE_SANITY_DIR:-/tmp/nexcage-sanity}/ansible_collections/cageforge/nexcage"
rm -rf "$dest"
mkdir -p "$dest"
cd "$top"
git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
ansible-test sanity --python 3.11 --color no "$@"
