#!/usr/bin/env bash
# Builds the bootable appliance image from a .deb: a Debian root (debootstrap) with a kernel, systemd-networkd
# (DHCP), SSH, and Shelf installed, on a GPT disk with an EFI system partition (systemd-boot) and an ext4 root
# (mkfs.ext4 -d: no loop device, no mount). UEFI boot only (OVMF on KVM/Proxmox, EFI firmware on VMware).
# Writes shelf-<version>.raw and .qcow2 (with qemu-img). Needs root for debootstrap; without what it needs it
# says so and exits 77 (skipped). SHELF_IMAGE_CACHE keeps the base root between builds.
# usage: appliance-image/build-image.sh DEB [OUTDIR] [SUITE]
set -euo pipefail
deb=$(realpath "$1")
out=$(realpath -m "${2:-$(dirname "$0")/out}")
suite=${3:-trixie}
cache=${SHELF_IMAGE_CACHE:-/var/cache/shelf-image}
root_size_mib=3072
esp_size_mib=256

missing=""
[ "$(id -u)" -eq 0 ] || missing="root"
for tool in debootstrap mkfs.ext4 mkfs.vfat mcopy mmd sfdisk qemu-img chroot; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  echo "SKIP: building the image needs$missing (apt-get install debootstrap e2fsprogs dosfstools mtools fdisk qemu-utils)" >&2
  exit 77
fi
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 ~ / main/ && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=$cache/base-$suite
if [ ! -x "$base/usr/lib/systemd/systemd" ]; then
  mkdir -p "$cache"
  rm -rf "$base.tmp"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,systemd-resolved,systemd-boot-efi,dbus,linux-image-amd64,initramfs-tools,udev,kmod,e2fsprogs,iproute2,openssh-server,logrotate,openssl,curl,ca-certificates,less \
    "$suite" "$base.tmp" "$mirror" > "$cache/base-$suite.log"
  chroot "$base.tmp" apt-get clean
  mv "$base.tmp" "$base"
fi
root=$work/root
cp -a "$base" "$root"
# Commands in the image's root see none of this shell's environment (NODE_OPTIONS, say).
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# Shelf, as on a running system (its dependencies are all in the base; systemd does not run in the chroot).
cp "$deb" "$root/tmp/shelf.deb"
in_root dpkg -i /tmp/shelf.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; exit 1; }
rm -f "$root/tmp/shelf.deb"
version=$(in_root dpkg-query -W -f='${Version}' shelf)
in_root systemctl enable shelf.service shelf-firstboot.service shelf-banner.service systemd-networkd.service systemd-resolved.service >/dev/null 2>&1

# The machine's identity is made at first boot: machine-id, SSH host keys (shelf-firstboot), Shelf's keys.
: > "$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id"
echo shelf > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 shelf\n::1 localhost\n' > "$root/etc/hosts"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/80-dhcp.network"
printf 'LABEL=shelf-root / ext4 defaults 0 1\nLABEL=ESP /boot/efi vfat umask=0077 0 2\n' > "$root/etc/fstab"
mkdir -p "$root/boot/efi"
# A kernel upgrade inside the VM copies the new kernel to the EFI partition, where systemd-boot finds it.
mkdir -p "$root/etc/kernel/postinst.d"
cat > "$root/etc/kernel/postinst.d/zz-shelf-esp" <<'HOOK'
#!/bin/sh
# Puts the newest kernel and initrd where the appliance's boot entry names them.
[ -d /boot/efi/loader ] || exit 0
cp "/boot/vmlinuz-$1" /boot/efi/vmlinuz && cp "/boot/initrd.img-$1" /boot/efi/initrd.img 2>/dev/null || true
HOOK
chmod 0755 "$root/etc/kernel/postinst.d/zz-shelf-esp"

# The EFI system partition: systemd-boot, one entry, the kernel and initrd.
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)
esp=$work/esp.img
mkfs.vfat -C -F 32 -n ESP "$esp" $((esp_size_mib * 1024)) >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/shelf-seed
mcopy -i "$esp" "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
printf 'default shelf.conf\ntimeout 2\n' > "$work/loader.conf"
printf 'title Shelf %s\nlinux /vmlinuz\ninitrd /initrd.img\noptions root=LABEL=shelf-root rw console=tty0 console=ttyS0,115200\n' "$version" > "$work/shelf.conf"
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$work/shelf.conf" ::/loader/entries/shelf.conf
mcopy -i "$esp" "$kernel" ::/vmlinuz
mcopy -i "$esp" "$initrd" ::/initrd.img

# The disk: GPT, the ESP at 1 MiB, then the root (the discoverable-partitions type for x86-64 roots).
raw=$work/disk.raw
total_mib=$((1 + esp_size_mib + root_size_mib + 1))
truncate -s "${total_mib}M" "$raw"
sfdisk -q "$raw" <<TABLE
label: gpt
start=1MiB, size=${esp_size_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
start=$((1 + esp_size_mib))MiB, size=${root_size_mib}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root
TABLE
dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc status=none
mkfs.ext4 -q -L shelf-root -d "$root" -E offset=$(((1 + esp_size_mib) * 1024 * 1024)) "$raw" "${root_size_mib}M"

mkdir -p "$out"
name=shelf-$version-$suite-amd64
mv "$raw" "$out/$name.raw"
qemu-img convert -f raw -O qcow2 "$out/$name.raw" "$out/$name.qcow2"
(cd "$out" && sha256sum "$name.raw" "$name.qcow2" > "$name.sha256")
echo "$out/$name.qcow2"
