#!/usr/bin/env bash
# Builds the Debian 12 test template once and caches it under build/templates/:
#   build/templates/debian-12-nexcage_12_amd64.tar.zst
# a minimal Debian bookworm root file system with python3 (so Ansible modules run inside),
# sysvinit-core as /sbin/init (a container needs an init; minbase has none) and sudo (become).
# The simulated node (tests/pvesim) offers it as local:vztmpl/debian-12-nexcage_12_amd64.tar.zst.
#
# The mirror is the machine's own Debian source (/etc/apt/sources.list.d/*.sources or
# /etc/apt/sources.list), override with NEXCAGE_DEBIAN_MIRROR=URL. Needs root and mmdebstrap.
# Rebuilt only when the recipe below changes (its hash is kept next to the template).
# Exit status: 0 built or cached; 1 the build failed or mmdebstrap is missing (the set-up stops, and
# the tests that need the template fail); 0 with a notice when not root or the mirror cannot be
# reached (a clone without network: those tests then skip, saying why).
set -euo pipefail
export LANG=C LC_ALL=C

top="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="$top/build/templates"
name="debian-12-nexcage_12_amd64.tar.zst"
target="$out_dir/$name"

# (Perl comes along, 47 MB unpacked: the essential set's init-system-helpers pulls in usrmerge.)
packages="python3,sysvinit-core,sudo"
# A container's init: no getty on ttys that LXC does not create, runlevel 2, and SIGPWR
# (lxc-stop without --kill, pct shutdown) halts (sysvinit runs `powerfail` when there is
# no /etc/powerstatus), the way LXC's own Debian template sets it up.
inittab='id:2:initdefault:
si::sysinit:/etc/init.d/rcS
l0:0:wait:/etc/init.d/rc 0
l1:1:wait:/etc/init.d/rc 1
l2:2:wait:/etc/init.d/rc 2
l3:3:wait:/etc/init.d/rc 3
l6:6:wait:/etc/init.d/rc 6
p0::powerfail:/sbin/init 0
p6::ctrlaltdel:/sbin/init 6
c1:2345:respawn:/sbin/getty 38400 console
'
# no translations, manuals or docs in a test template (dpkg leaves them out at unpack time)
dpkg_opts=(
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
)
recipe="v3 bookworm minbase $packages $inittab ${dpkg_opts[*]}"
recipe_hash="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"

if [ -f "$target" ] && [ "$(cat "$target.recipe" 2>/dev/null)" = "$recipe_hash" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "build-debian-template: not root, the Debian template is not built ($target)" >&2
  exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
  echo "build-debian-template: mmdebstrap is missing (scripts/install-os-deps.sh installs it)" >&2
  exit 1
fi

mirror="${NEXCAGE_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # the first URI of a stanza/line for bookworm that is not the security archive
  mirror="$(
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
      /^URIs:/ {uris=$2} /^Suites:/ && /bookworm( |$)/ && uris !~ /security/ {print uris; exit}'
  )"
fi
if [ -z "$mirror" ]; then
  mirror="$(grep -hE '^deb .* bookworm( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v security | awk '{print $2; exit}')"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

# A clone without network cannot build it: say so and go on (the tests that need it skip, saying why).
mirror_host="$(printf '%s' "$mirror" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')"
mirror_port=80
case "$mirror" in https://*) mirror_port=443 ;; esac
if ! timeout 5 bash -c "exec 3<>/dev/tcp/$mirror_host/$mirror_port" 2>/dev/null; then
  echo "build-debian-template: $mirror_host cannot be reached, the Debian template is not built (no network?)" >&2
  exit 0
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.${name}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building the Debian template $target from $mirror (once; about a minute)"
start=$(date +%s)
# LXC's own files in /dev come from the runtime; a machine-id is made at first boot.
mmdebstrap --quiet --variant=minbase --include="$packages" --format=tar "${dpkg_opts[@]}" \
  --customize-hook='printf "%s" "'"$inittab"'" > "$1/etc/inittab"' \
  --customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id"; : > "$1/etc/machine-id"' \
  --customize-hook='echo localhost > "$1/etc/hostname"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
  bookworm - "deb $mirror bookworm main" | zstd -q -T0 -12 -o "$tmp" -f
mv -f "$tmp" "$target"
trap - EXIT
printf '%s\n' "$recipe_hash" >"$target.recipe"
echo "built $target: $(du -h "$target" | cut -f1) in $(($(date +%s) - start)) s"
