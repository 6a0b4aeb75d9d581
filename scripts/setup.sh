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
  # appliance image (scripts/image.sh; mkosi itself comes from bookworm-backports, below) and QEMU lab
  qemu-system-x86 qemu-utils ovmf socat jq
  dosfstools mtools erofs-utils squashfs-tools e2fsprogs fdisk
  xz-utils zstd cpio busybox-static python3-pefile debian-archive-keyring
)
# Packages that must come from bookworm-backports (bookworm's own mkosi 14 is too old); they bring
# systemd 254, systemd-container and bubblewrap with them.
BACKPORTS_PACKAGES=(mkosi systemd-boot systemd-boot-efi)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
missing_bpo=()
for p in "${BACKPORTS_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null | grep -q "install ok installed .*bpo" || missing_bpo+=("$p")
done
BPO_SOURCE=/etc/apt/sources.list.d/bookworm-backports.sources
if [ "${#missing_bpo[@]}" -gt 0 ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" \
    "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$BPO_SOURCE"
fi
if [ "${#missing[@]}" -gt 0 ] || [ "${#missing_bpo[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} ${missing_bpo[*]}"
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  [ "${#missing[@]}" -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "${#missing_bpo[@]}" -eq 0 ] ||
    apt-get install -y -qq --no-install-recommends -t bookworm-backports "${missing_bpo[@]}" >/dev/null
fi

# Bun (exact version, from the npm registry) and the JS dependencies, as the lockfile says. (The registry
# here serves no @biomejs/cli-* packages for other platforms; the lockfile lists them as optional entries
# without a tarball, which npm ci accepts and never fetches on linux-x64.)
npm ci --no-audit --no-fund --loglevel=error
./node_modules/.bin/bun --version
