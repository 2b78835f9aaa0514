#!/bin/bash
# Builds the test VMs' initramfs for one kernel release: busybox, the virtio/9p/net drivers in
# the order modprobe resolves, and guest/init.
# Usage: build-initramfs.sh RELEASE OUT.cpio.gz [ROOT]
# ROOT holds lib/modules/RELEASE (depmod run): / by default, or a kernel unpacked by
# test/kmod/fetch-kernel.sh --image.
set -euo pipefail
release=$1
out=$2
root=${3:-/}
here=$(cd "$(dirname "$0")" && pwd)

busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' || busybox=/bin/busybox
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	echo "build-initramfs: a static busybox is needed: apt-get install busybox-static" >&2
	exit 1
fi
# /init runs the command in a mount namespace of its own (busybox's unshare applet). The list
# is read whole first: `busybox --list | grep -q` fails under pipefail when grep stops reading
# early and busybox gets SIGPIPE.
applets=$("$busybox" --list)
for applet in unshare chroot; do
	if ! grep -qx "$applet" <<<"$applets"; then
		echo "build-initramfs: $busybox has no $applet applet: apt-get install busybox-static" >&2
		exit 1
	fi
done
[ -d "$root/lib/modules/$release/kernel" ] || {
	echo "build-initramfs: no modules for $release in $root: apt-get install linux-image-amd64" >&2
	exit 1
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,modules,host}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/guest/init" "$stage/init"
chmod 755 "$stage/init"

: > "$stage/modules/order"
for mod in virtio_pci 9pnet_virtio 9p virtio_net virtio_console; do
	modprobe -d "$root" --show-depends -S "$release" "$mod"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r path; do
	name=$(basename "$path")
	case "$path" in
	*.ko) cp "$path" "$stage/modules/$name" ;;
	*.ko.xz) xz -dc "$path" > "$stage/modules/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$path" > "$stage/modules/${name%.zst}"; name=${name%.zst} ;;
	*) echo "build-initramfs: unexpected module $path" >&2; exit 1 ;;
	esac
	echo "$name" >> "$stage/modules/order"
done
# Drivers built into the kernel (6.12's virtio_pci and virtio_console) show as "builtin" lines
# and need no file; 9p is a module in every Debian kernel, so the list is never empty.
[ -s "$stage/modules/order" ] || { echo "build-initramfs: no driver modules found" >&2; exit 1; }

# Several VMs may boot at once against an empty cache: each builds into a temporary file of its
# own beside the target and renames it into place, which is atomic; the last rename wins with
# identical content, and no reader ever sees a partial file.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX.tmp")
trap 'rm -rf "$stage" "$tmp"' EXIT
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
