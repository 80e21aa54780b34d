#!/usr/bin/env bash
# Installs the Debian packages the simulated node and the OCI work need.
# Needs root for apt; without root it only reports what is missing.
set -euo pipefail
# mmdebstrap: the Debian test template (scripts/build-debian-template.sh);
# openssh-server/-client: the pct connection's remote-node tests (an sshd on 127.0.0.1)
packages=(lxc busybox-static zstd uidmap rsync runc crun iproute2 tar mmdebstrap openssh-server openssh-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages (install them as root): ${missing[*]}" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
