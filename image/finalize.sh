#!/bin/bash
# mkosi finalize script (runs on the build host after the root is complete, before the disk is made).
# Builds fulcrum's own initramfs for the image's kernel: busybox-static, image/initramfs/init, and only the
# storage/filesystem modules (decompressed; busybox modprobe reads plain .ko). mkosi puts it into the UKI
# (ARTIFACTDIR/io.mkosi.initrd/) and scripts/image.sh publishes a copy for direct kernel boots.
set -euo pipefail

INITRD_MODULES=(
  # buses and disk controllers found on edge boxes and in QEMU
  virtio_pci virtio_blk virtio_scsi sd_mod nvme ahci ata_piix
  mmc_block sdhci_pci sdhci_acpi
  xhci_pci ehci_pci ohci_pci usb_storage uas
  # the root filesystem
  erofs squashfs
)

mapfile -t kvers < <(ls "$BUILDROOT/usr/lib/modules")
[ "${#kvers[@]}" -eq 1 ] || { echo "finalize: expected one kernel, found: ${kvers[*]}" >&2; exit 1; }
kver=${kvers[0]}
moddir=$BUILDROOT/usr/lib/modules/$kver

# Store the modules every boot loads uncompressed: xz-decompressing each .ko at load time costs
# seconds under TCG and on slow boxes. Hardware NIC drivers (most of the bulk, one loaded per box)
# stay compressed to keep the slot small.
find "$moddir" -name '*.ko.xz' -not -path '*/drivers/net/ethernet/*' -exec xz -d {} +
find "$moddir" -name '*.ko.zst' -not -path '*/drivers/net/ethernet/*' -exec zstd -d -q --rm {} +
mkosi-chroot depmod -a "$kver"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r=$work/root
mkdir -p "$r"/{bin,dev,proc,sys,run,sysroot,lib/modules/"$kver"}
cp /usr/bin/busybox "$r/bin/busybox"
for applet in $("$r/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
done
ln -s bin "$r/sbin"
install -m 0755 "$SRCDIR/image/initramfs/init" "$r/init"

# Each wanted module plus its dependencies, in the order modprobe would insert them.
declare -A copied=()
for m in "${INITRD_MODULES[@]}"; do
  deps=$(modprobe --dirname="$BUILDROOT/usr" --set-version="$kver" --show-depends "$m" 2>/dev/null) || {
    echo "finalize: module $m not in the image (built in or filtered out), skipped"
    continue
  }
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    rel=${path#"$moddir"/}
    [ -n "${copied[$rel]:-}" ] && continue
    copied[$rel]=1
    out=$r/lib/modules/$kver/${rel%.xz}
    out=${out%.zst}
    mkdir -p "$(dirname "$out")"
    case "$rel" in
      *.xz) xz -dc "$path" >"$out" ;;
      *.zst) zstd -dcq "$path" >"$out" ;;
      *) cp "$path" "$out" ;;
    esac
  done <<<"$deps"
done
cp "$moddir"/modules.builtin* "$moddir"/modules.order "$r/lib/modules/$kver/"
depmod -b "$r" "$kver"

mkdir -p "$ARTIFACTDIR/io.mkosi.initrd"
(cd "$r" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --reproducible) \
  >"$ARTIFACTDIR/io.mkosi.initrd/fulcrum.cpio"
cp "$ARTIFACTDIR/io.mkosi.initrd/fulcrum.cpio" "$OUTPUTDIR/fulcrum.initrd"
echo "finalize: initrd for $kver with ${#copied[@]} modules, $(du -h "$OUTPUTDIR/fulcrum.initrd" | cut -f1)"
