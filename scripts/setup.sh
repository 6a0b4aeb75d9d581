#!/usr/bin/env bash
# One-time machine setup for development and CI on Debian 12: system packages and the pinned Bun.
# Idempotent: safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Packages the host-side tests use: libnl for the FFI layer, iproute2 to read back what we programmed,
# keepalived as a VRRP peer, tshark to dissect our packets.
APT_PACKAGES=(
  libnl-3-200 libnl-genl-3-200 libnl-route-3-200
  iproute2 procps kmod
  keepalived tshark tcpdump
  mariadb-server dnsmasq
  tmux openssh-client prometheus openssl curl
  iputils-ping
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Bun (exact version, from the npm registry) and the JS dependencies, as the lockfile says.
npm ci --no-audit --no-fund --loglevel=error
./node_modules/.bin/bun --version
