#!/bin/bash
# Fetches one Debian kernel series, without installing anything, and prints where it put it:
#
#   test/kmod/fetch-kernel.sh SERIES           the headers; prints the KDIR to build against
#   test/kmod/fetch-kernel.sh --image SERIES   the kernel to boot, its modules and its headers;
#                                              prints the folder (see below)
#   SERIES: 6.1 (bookworm), 6.12 (bookworm-backports), 5.10 (bullseye)
#   make -C kmod KDIR="$(test/kmod/fetch-kernel.sh 6.12)"
#
# The host's apt configuration, /boot and /lib/modules are not touched: apt runs with a private
# source list and state under the cache, `apt-get download` fetches linux-headers-<release>, its
# -common package and linux-kbuild-<series> (with --image also linux-image-<release>, the signed
# image Debian boots: vmlinuz and every module), and `dpkg -x` unpacks them into
# ${REWIND_CACHE:-/var/cache/rewind}/kernels/<release>/ (headers) or .../kernels/vm-<release>/
# (--image). The arch package's Makefile includes the -common one by absolute path; it is pointed
# into the cache. An --image folder holds `release` (the release name) and root/ with
# boot/vmlinuz-<release>, lib/modules/<release> (depmod already run: `modprobe -d root` works) and
# usr/src/linux-headers-<release> (the KDIR that matches the image: same fetch, same release).
#
# Safe when several processes run it at once (a test matrix): the work happens in a private
# temporary folder under the cache, and the result is moved into place with one rename; a process
# that loses the race uses the winner's folder. A finished folder has a .complete marker.
set -euo pipefail

image=
if [ "${1:-}" = --image ]; then
	image=1
	shift
fi
series=${1:?usage: fetch-kernel.sh [--image] SERIES (6.1, 6.12, 5.10)}
case "$series" in
6.1) suite=bookworm ;;
6.12) suite=bookworm-backports ;;
5.10) suite=bullseye ;;
*)
	echo "fetch-kernel: unknown series $series (known: 6.1, 6.12, 5.10)" >&2
	exit 2
	;;
esac
arch=amd64
cache=${REWIND_CACHE:-/var/cache/rewind}/kernels
mkdir -p "$cache"

# What a finished folder prints: the KDIR of a headers fetch, the folder of an --image one.
marker=.series-$series
result=.kdir
if [ -n "$image" ]; then
	marker=.image-series-$series
	result=.folder
fi

# A finished fetch of this series: nothing to do.
for done in "$cache"/*/"$marker"; do
	if [ -e "$done" ] && [ -e "$(dirname "$done")/.complete" ]; then
		cat "$(dirname "$done")/$result"
		exit 0
	fi
done

tmp=$(mktemp -d "$cache/.fetch-$series.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/cache/archives/partial" "$tmp/debs" "$tmp/root"
echo "deb http://deb.debian.org/debian $suite main" >"$tmp/apt/sources.list"
apt_opts=(
	-o "Dir::Etc::SourceList=$tmp/apt/sources.list"
	-o "Dir::Etc::SourceParts=/nonexistent"
	-o "Dir::State::Lists=$tmp/apt/lists"
	-o "Dir::State::Status=/dev/null"
	-o "Dir::Cache=$tmp/apt/cache"
	-o "APT::Sandbox::User=root"
	-o "Acquire::Languages=none"
	-q
)
apt-get "${apt_opts[@]}" update >"$tmp/apt.log" 2>&1 || {
	cat "$tmp/apt.log" >&2
	exit 1
}

# linux-headers-amd64 (the meta package) names the release: linux-headers-<release>.
headers=$(apt-cache "${apt_opts[@]}" depends "linux-headers-$arch" |
	sed -n "s/^  Depends: \(linux-headers-[0-9].*-$arch\)$/\1/p" | sort -V | tail -n 1)
[ -n "$headers" ] || {
	echo "fetch-kernel: no linux-headers-$arch in $suite" >&2
	exit 1
}
release=${headers#linux-headers-}
# Its own dependencies that are kernel packages: the -common headers and linux-kbuild-<series>.
mapfile -t deps < <(apt-cache "${apt_opts[@]}" depends "$headers" |
	sed -n 's/^  Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p' | sort -u)
packages=("$headers" "${deps[@]}")
if [ -n "$image" ]; then
	# The image of the same release (not -unsigned, not -dbg): the meta package names it too.
	packages+=("linux-image-$release")
fi
(cd "$tmp/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}" >"$tmp/dl.log" 2>&1) || {
	cat "$tmp/dl.log" >&2
	exit 1
}
for deb in "$tmp"/debs/*.deb; do
	dpkg -x "$deb" "$tmp/root"
done
kdir_rel=usr/src/linux-headers-$release
common=$(sed -n 's|^include /usr/src/\(linux-headers-.*-common[^/]*\)/Makefile$|\1|p' \
	"$tmp/root/$kdir_rel/Makefile")
[ -n "$common" ] && [ -d "$tmp/root/usr/src/$common" ] || {
	echo "fetch-kernel: $headers: no -common headers found" >&2
	exit 1
}

final=$cache/$release
[ -z "$image" ] || final=$cache/vm-$release
sed -i "s|^include /usr/src/|include $final/root/usr/src/|" "$tmp/root/$kdir_rel/Makefile"
if [ -n "$image" ]; then
	[ -f "$tmp/root/boot/vmlinuz-$release" ] && [ -d "$tmp/root/lib/modules/$release/kernel" ] || {
		echo "fetch-kernel: linux-image-$release: no vmlinuz or modules in the package" >&2
		exit 1
	}
	# Debian runs depmod in the package's postinst, which dpkg -x does not: run it here, inside
	# the private folder, so that the published tree is complete.
	depmod -b "$tmp/root" "$release"
	echo "$release" >"$tmp/release"
fi
rm -rf "$tmp/apt" "$tmp/debs" "$tmp"/*.log
echo "$final/root/$kdir_rel" >"$tmp/.kdir"
echo "$final" >"$tmp/.folder"
touch "$tmp/$marker" "$tmp/.complete"
# One rename publishes the whole folder; if another process was first, keep its copy.
if ! mv -T "$tmp" "$final" 2>/dev/null; then
	[ -e "$final/.complete" ] || {
		echo "fetch-kernel: $final exists but is incomplete" >&2
		exit 1
	}
fi
cat "$final/$result"
