#!/usr/bin/env bash
# ansible-test wants the collection at ansible_collections/<ns>/<name>; copy the
# files git would ship (tracked, plus untracked and not ignored) there and run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# Outside this checkout: inside it, ansible-test would ask git and see only ignored files. A directory
# of this run's own unless NEXCAGE_SANITY_DIR names one: two checkouts on one machine (two CI runs)
# must not remove each other's copy while it is tested.
if [ -n "${NEXCAGE_SANITY_DIR:-}" ]; then
    base=$NEXCAGE_SANITY_DIR
else
    base=$(mktemp -d /tmp/nexcage-sanity.XXXXXX)
    trap 'rm -rf "$base"' EXIT
fi
dest="$base/ansible_collections/cageforge/nexcage"
rm -rf "$dest"
mkdir -p "$dest"
cd "$top"
git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
ansible-test sanity --python 3.11 --color no "$@"
